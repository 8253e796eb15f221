"""Stream a downloaded CSV file into typed Arrow tables, block by block.

pyarrow's streaming CSV reader infers column types from its first block only and fails
on a later block that does not fit (an id column whose 80,001st value is "n/a"). So a
file is read twice, never held in memory: `inspect_csv` reads every block as strings and
narrows each column to the strictest type all its values cast to (int64, float64, date,
timestamp, timestamp with zone, bool, else string); `read_csv_tables` reads the blocks
again and casts them with exactly the same casts, so it cannot fail where the first
pass succeeded. A file that does not parse fails in the first pass, before anything is
yielded — a half-read export never reaches the destination.

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

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(list(zip(self.names, self.types, strict=True)))


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


def _casts(values: pa.Array, candidate: int) -> bool:
    if candidate < _NUMERIC and pc.any(pc.match_substring_regex(values, _LEADING_ZERO)).as_py():
        return False
    try:
        pc.cast(values, CANDIDATES[candidate])
    except _CAST_ERRORS:
        return False
    return True


def _fits(values: pa.Array, candidate: int) -> bool:
    """Whether every value casts to the candidate. A failing cast reads the whole column
    before it fails (~60 ms per 100k strings), so a head sample is tried first: if the
    head does not fit, the column does not either."""
    if pa.types.is_string(CANDIDATES[candidate]):
        return True
    if len(values) > PROBE_ROWS and not _casts(values.slice(0, PROBE_ROWS), candidate):
        return False
    return _casts(values, candidate)


def inspect_csv(
    path: Path, block_size: int = DEFAULT_BLOCK_SIZE, reserved: Collection[str] = ()
) -> CsvLayout:
    """First pass: the header and the narrowest type of every column, over the whole file;
    no column is named like one of `reserved` (the columns the source adds)."""
    header: list[str] = []
    chosen: list[int] = []
    seen_values: list[bool] = []
    rows = 0
    for header, batch in _string_batches(path, block_size):
        if not chosen:
            chosen = [0] * len(header)
            seen_values = [False] * len(header)
        rows += batch.num_rows
        for i in range(len(header)):
            column = batch.column(i)
            if column.null_count == len(column):
                continue
            seen_values[i] = True
            while not _fits(column, chosen[i]):
                chosen[i] += 1
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
    return CsvLayout(header, unique_names(header, reserved), types, rows)


def read_csv_tables(
    path: Path,
    layout: CsvLayout,
    block_size: int = DEFAULT_BLOCK_SIZE,
    table_rows: int = TABLE_ROWS,
) -> Iterator[pa.Table]:
    """Second pass: the blocks cast to the layout's names and types, in tables of about
    `table_rows` rows."""
    schema = layout.schema
    pending: list[pa.RecordBatch] = []
    rows = 0
    for _, batch in _string_batches(path, block_size):
        columns = [
            pc.cast(batch.column(i), layout.types[i]) if not pa.types.is_string(t) else batch[i]
            for i, t in enumerate(layout.types)
        ]
        pending.append(pa.RecordBatch.from_arrays(columns, schema=schema))
        rows += batch.num_rows
        if rows >= table_rows:
            yield pa.Table.from_batches(pending, schema=schema)
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending, schema=schema)
