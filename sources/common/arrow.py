"""Turn vendor rows into Arrow tables, so dlt loads them without row-by-row normalisation
(~20x faster than dicts on this machine), and spool a unit of work to disk until it is
complete, so a failure half-way never reaches the destination as a partial result."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from itertools import zip_longest
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc
from dlt.common.destination.capabilities import DestinationCapabilitiesContext
from dlt.common.libs.pyarrow import get_column_type_from_py_arrow, get_py_arrow_datatype

from sources.common.memory import release_memory, return_free_pages
from sources.common.names import column_names


def column_array(values: Sequence[Any]) -> pa.Array:
    """An Arrow array of the values' own type; mixed types fall back to strings."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def positional_rows_to_table(
    rows: Sequence[Sequence[Any]], names: Sequence[str], reserved: Sequence[str] = ()
) -> pa.Table:
    """Rows as positional arrays → a table; unnamed positions n get `col_<n>` names.

    Names are dlt's snake_case, made distinct from each other and from `reserved` (the
    columns the source adds), so two vendor columns never land on one name."""
    values = list(zip_longest(*rows))  # columns; short rows are padded with None
    width = max(len(values), len(names))
    all_names = list(names) + [f"col_{i}" for i in range(len(names), width)]
    values += [(None,) * len(rows)] * (width - len(values))  # named, but in no row
    distinct = column_names(all_names, reserved)
    return pa.table({name: column_array(values[i]) for i, name in enumerate(distinct)})


# rows spooled (by every spool of the process) between two `release_memory` calls: freed
# pages pile up while rows stream in (the 1M-row Datawiz run grew by ~80 MB before its
# first spool closed; its bench peak fell from 384 to 298 MB with this); a collection costs
# ~0.1 s, so not more often
RELEASE_ROWS = 200_000


class Spool:
    """Arrow batches parked in a temporary IPC file until the producer says it is done.

    Batches are cast to the first batch's schema where they can be; a batch whose types
    cannot be unified starts a new segment, so nothing is lost."""

    _unreleased = 0  # rows written by any spool since memory was last released

    def __init__(self, directory: str | None = None, *, releases: bool = True) -> None:
        """`releases=False`: writing never releases memory, for a caller that releases
        it itself once its pass is done (the CSV typing pass: ~7% of its time otherwise)."""
        self._dir = tempfile.TemporaryDirectory(prefix="spool-", dir=directory)
        self._releases = releases
        self._segments: list[Path] = []
        self._writer: ipc.RecordBatchFileWriter | None = None
        self.schemas: list[pa.Schema] = []  # each segment's
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows == 0:
            return
        if self.schemas and table.schema != self.schemas[-1]:
            try:
                table = table.cast(self.schemas[-1])
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
                self._close_writer()
        if self._writer is None:
            path = Path(self._dir.name) / f"{len(self._segments)}.arrow"
            self._segments.append(path)
            self.schemas.append(table.schema)
            self._writer = ipc.new_file(path, table.schema)
        self._writer.write_table(table)
        self.rows += table.num_rows
        if not self._releases:
            return
        Spool._unreleased += table.num_rows
        if Spool._unreleased >= RELEASE_ROWS:
            Spool._unreleased = 0
            release_memory()

    def tables(self, rows_per_table: int = 100_000) -> Iterator[pa.Table]:
        """Read back in order, in tables of about `rows_per_table` rows (copied, not mapped:
        dlt may hold a table after we move on)."""
        self._close_writer()
        for path in self._segments:
            with pa.OSFile(str(path), "rb") as source:
                reader = ipc.open_file(source)
                batches: list[pa.RecordBatch] = []
                held = 0
                for index in range(reader.num_record_batches):
                    batch = reader.get_batch(index)
                    batches.append(batch)
                    held += batch.num_rows
                    if held >= rows_per_table:
                        yield pa.Table.from_batches(batches)
                        batches, held = [], 0
                        return_free_pages()  # the table dlt wrote and its read buffers
                if batches:
                    yield pa.Table.from_batches(batches)

    @property
    def paths(self) -> list[Path]:
        return list(self._segments)

    def _close_writer(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def close(self) -> None:
        self._close_writer()
        self._dir.cleanup()
        release_memory()  # a spool is a bulk part: its pages and batches are done with

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def conform(table: pa.Table, known: dict[str, dict[str, Any]]) -> pa.Table:
    """Make an Arrow table fit the columns already in the destination schema.

    dlt turns a changed type into a variant column for dict rows, but passes Arrow tables
    through untouched, and the load then fails on the cast. So we do it here: a column
    whose values cast losslessly to the known type is cast; otherwise it is renamed to
    dlt's variant name `<column>__v_<type>` and the old column stays (null for these rows).
    `known` is the dlt table's `columns` (e.g. `dlt.current.source_schema()`)."""
    for index, field in enumerate(table.schema):
        want = known.get(field.name, {}).get("data_type")
        if want is None or pa.types.is_null(field.type):
            continue
        got = get_column_type_from_py_arrow(field.type)["data_type"]
        if got == want:
            continue
        target = arrow_type(known[field.name])
        column = table.column(index)
        try:
            if target is None:
                raise pa.ArrowInvalid(f"no arrow type for {want}")
            cast = pc.cast(column, target, safe=True)
            if _lossless(column, cast):
                table = table.set_column(index, pa.field(field.name, target, field.nullable), cast)
                continue
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
        variant = pa.field(f"{field.name}__v_{got}", field.type, field.nullable)
        table = table.set_column(index, variant, column)
    return table


def arrow_type(column: dict[str, Any]) -> pa.DataType | None:
    """The Arrow type dlt writes a column of this schema as (timestamps in UTC, microseconds;
    decimals 38,9 unless the hint says); None for types that have no plain Arrow cast
    here (`json`, `wei`, …), which then become a variant column."""
    if column.get("data_type") not in _CASTABLE:
        return None
    return get_py_arrow_datatype(column, _GENERIC, "UTC")


_CASTABLE = frozenset({"text", "double", "bigint", "bool", "date", "timestamp", "decimal", "time"})
_GENERIC = DestinationCapabilitiesContext.generic_capabilities()


def _lossless(original: pa.ChunkedArray, cast: pa.ChunkedArray) -> bool:
    """A cast that invents nulls or changes text (1.5 → "1.5" → 1.5 is fine) is not lossless."""
    if original.null_count != cast.null_count:
        return False
    if pa.types.is_floating(original.type) and pa.types.is_integer(cast.type):
        return pc.all(pc.equal(pc.cast(cast, original.type), original)).as_py() is not False
    return True


def required(table: pa.Table, names: tuple[str, ...]) -> pa.Table:
    """Mark key columns not-null in the Arrow schema, as dlt has them for primary and merge
    keys; otherwise dlt warns, on every table, that the hints differ."""
    if not names:
        return table
    fields = [
        f.with_nullable(False) if f.name in names and table.column(f.name).null_count == 0 else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields, metadata=table.schema.metadata))
