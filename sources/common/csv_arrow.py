"""Stream a downloaded CSV file into typed Arrow tables, block by block.

pyarrow's streaming CSV reader infers column types from its first block only and fails
on a later block that does not fit (an id column whose 80,001st value is "n/a"). So a
file is never held in memory: `inspect_csv` reads every block as strings and narrows
each column to the strictest type all its values cast to (int64, float64, date,
timestamp, timestamp with zone, bool, else string), and spools each block as it cast it
to a typed Arrow file beside the CSV. `read_csv_tables` reads that spool back when every
block's columns already have their final types (the usual case: types settle in the
first block); when a column widened after it had values (that "n/a"), it reads the CSV
again and casts every block with exactly the same casts, so it cannot fail where the
first pass succeeded. Either way the values are those of one cast of the same strings.
A file that does not parse fails in the first pass, before anything is yielded — a
half-read export never reaches the destination.

Conventions, the same for every vendor export:
- a UTF-8 byte order mark is skipped; fields may be quoted, hold the delimiter, doubled
  quotes and line breaks;
- an unquoted empty field is NULL, a quoted empty field `""` is the empty string, and
  nothing else is NULL ("NA", "null", "N/A" are values: a region, a name);
- numbers written with a leading zero ("00123", a zip code, an account code) stay text;
- column names are the header's in dlt's snake_case, never empty (`col_<n>`) and
  distinct: a name that repeats one before it, or that a source adds itself (`reserved`,
  e.g. `_widget_id`), keeps its data under `<name>__vendor` (sources.common.names)."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from sources.common.arrow import Spool
from sources.common.memory import release_memory
from sources.common.names import column_names

# Bytes of CSV per parsed block. pyarrow's streaming reader reads up to 32 blocks ahead,
# so memory grows with the block size (8 MiB blocks held ~250 MB more on a 1M-row export);
# 256 KiB parses nearly as fast. Blocks are handed on gathered into tables of TABLE_ROWS,
# as dlt's cost is per table.
DEFAULT_BLOCK_SIZE = 256 << 10
TABLE_ROWS = 65_536
PROBE_ROWS = 1024  # values tried before a whole block is cast to a candidate type

CANDIDATES: tuple[pa.DataType, ...] = (
    pa.int64(),
    pa.float64(),
    pa.date32(),
    pa.timestamp("us"),
    pa.timestamp("us", tz="UTC"),
    pa.bool_(),
    pa.string(),
)
_NUMERIC = 2  # the first two candidates are numbers
_LEADING_ZERO = r"^[+-]?0[0-9]"
_CAST_ERRORS = (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError)


class CsvFormatError(ValueError):
    """The file is not the CSV it should be (ragged rows, bad quoting, bad encoding)."""


@dataclass(frozen=True)
class CsvLayout:
    """What the first pass learned: header, column names, types and row count."""

    header: list[str]
    names: list[str]
    types: list[pa.DataType]
    rows: int
    typed: Spool | None = None  # the first pass's typed blocks; None = read the CSV again

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(list(zip(self.names, self.types, strict=True)))

    def discard(self) -> None:
        """Delete the spool (the CSV itself is the caller's)."""
        if self.typed is not None:
            self.typed.close()


def unique_names(header: list[str], reserved: Collection[str] = ()) -> list[str]:
    """Column names for a header: snake_case, distinct, none in `reserved`."""
    return column_names([raw.strip() or f"col_{n}" for n, raw in enumerate(header)], reserved)


def _reader(path: Path, block_size: int, header: list[str] | None) -> pacsv.CSVStreamingReader:
    convert = pacsv.ConvertOptions(
        column_types={name: pa.string() for name in header} if header else None,
        null_values=[""],  # not pyarrow's default list: "NA", "null", "n/a" are values
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )
    read = pacsv.ReadOptions(block_size=block_size, use_threads=True)
    # in a one-column file an empty line is a row whose value is NULL, not a blank to skip
    parse = pacsv.ParseOptions(
        newlines_in_values=True, ignore_empty_lines=header is None or len(header) != 1
    )
    return pacsv.open_csv(
        str(path), read_options=read, parse_options=parse, convert_options=convert
    )


def _string_batches(path: Path, block_size: int) -> Iterator[tuple[list[str], pa.RecordBatch]]:
    try:
        with _reader(path, block_size, None) as probe:
            header = probe.schema.names
        with _reader(path, block_size, header) as reader:
            for batch in reader:
                yield header, batch
        release_memory()  # the read-ahead blocks' pages, before the next pass or the load
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" in str(exc):
            return
        raise CsvFormatError(" ".join(str(exc).split())[:300]) from None


def _cast(values: pa.Array, candidate: int) -> pa.Array | None:
    if candidate < _NUMERIC and pc.any(pc.match_substring_regex(values, _LEADING_ZERO)).as_py():
        return None
    try:
        return pc.cast(values, CANDIDATES[candidate])
    except _CAST_ERRORS:
        return None


def _fitted(values: pa.Array, candidate: int) -> pa.Array | None:
    """The values cast to the candidate, or None when one does not cast. A failing cast
    reads the whole column before it fails (~60 ms per 100k strings), so a head sample
    is tried first: if the head does not fit, the column does not either."""
    if pa.types.is_string(CANDIDATES[candidate]):
        return values
    if len(values) > PROBE_ROWS and _cast(values.slice(0, PROBE_ROWS), candidate) is None:
        return None
    return _cast(values, candidate)


def _final(spool: Spool, types: list[pa.DataType]) -> bool:
    """Whether every spooled column has its final type, or only NULLs (null type)."""
    return all(
        field.type == final or pa.types.is_null(field.type)
        for schema in spool.schemas
        for field, final in zip(schema, types, strict=True)
    )


def inspect_csv(
    path: Path, block_size: int = DEFAULT_BLOCK_SIZE, reserved: Collection[str] = ()
) -> CsvLayout:
    """First pass: the header and the narrowest type of every column, over the whole file;
    no column is named like one of `reserved` (the columns the source adds). The typed
    blocks are spooled beside the file for `read_csv_tables`; `layout.discard()` deletes
    them."""
    # beside the CSV, in the run's scratch folder; `read_csv_tables` releases the memory
    spool = Spool(str(path.parent), releases=False)
    try:
        header, chosen, seen_values, rows = _first_pass(path, block_size, spool)
    except BaseException:
        spool.close()
        raise
    if not header:  # no rows at all: the header alone, when there is one
        try:
            with _reader(path, block_size, None) as probe:
                header = probe.schema.names
        except pa.ArrowInvalid:
            return CsvLayout([], [], [], 0)
    if not chosen:  # a header and no rows
        chosen, seen_values = [0] * len(header), [False] * len(header)
    types = [
        CANDIDATES[c] if seen else pa.string() for c, seen in zip(chosen, seen_values, strict=True)
    ]
    typed: Spool | None = spool
    if not _final(spool, types):  # a column widened after it had values: read the CSV again
        spool.close()
        typed = None
    return CsvLayout(header, unique_names(header, reserved), types, rows, typed)


def _first_pass(
    path: Path, block_size: int, spool: Spool
) -> tuple[list[str], list[int], list[bool], int]:
    """Every block read as strings, each column narrowed to the first candidate all its
    values cast to so far, the block spooled as cast (a column of only NULLs as nulls)."""
    header: list[str] = []
    chosen: list[int] = []
    seen_values: list[bool] = []
    rows = 0
    for header, batch in _string_batches(path, block_size):
        if not chosen:
            chosen = [0] * len(header)
            seen_values = [False] * len(header)
        rows += batch.num_rows
        columns: list[pa.Array] = []
        for i in range(len(header)):
            column = batch.column(i)
            if column.null_count == len(column):
                kind = CANDIDATES[chosen[i]] if seen_values[i] else pa.null()
                columns.append(pa.nulls(len(column), kind))
                continue
            seen_values[i] = True
            typed = _fitted(column, chosen[i])
            while typed is None:
                chosen[i] += 1
                typed = _fitted(column, chosen[i])
            columns.append(typed)
        spool.write(pa.table(columns, names=[f"c{i}" for i in range(len(columns))]))
    return header, chosen, seen_values, rows


def read_csv_tables(
    path: Path,
    layout: CsvLayout,
    block_size: int = DEFAULT_BLOCK_SIZE,
    table_rows: int = TABLE_ROWS,
) -> Iterator[pa.Table]:
    """The typed blocks, from the spool or (a column widened) cast from the CSV again,
    named as the layout says, in tables of about `table_rows` rows."""
    schema = layout.schema
    pending: list[pa.RecordBatch] = []
    rows = 0
    spool = layout.typed
    blocks = (
        _spooled(spool, layout.types)
        if spool is not None
        else _cast_again(path, layout, block_size)
    )
    for columns in blocks:
        pending.append(pa.RecordBatch.from_arrays(columns, schema=schema))
        rows += pending[-1].num_rows
        if rows >= table_rows:
            yield pa.Table.from_batches(pending, schema=schema)
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending, schema=schema)
    release_memory()  # the blocks' pages, before the load in this process


def _spooled(spool: Spool, types: list[pa.DataType]) -> Iterator[list[pa.Array]]:
    for table in spool.tables():
        for batch in table.to_batches():
            yield [
                pa.nulls(batch.num_rows, t) if pa.types.is_null(c.type) else c
                for c, t in zip(batch.columns, types, strict=True)
            ]


def _cast_again(path: Path, layout: CsvLayout, block_size: int) -> Iterator[list[pa.Array]]:
    for _, batch in _string_batches(path, block_size):
        yield [
            batch[i] if pa.types.is_string(t) else pc.cast(batch.column(i), t)
            for i, t in enumerate(layout.types)
        ]
