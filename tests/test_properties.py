"""Property-based tests (hypothesis) for the parsers every source relies on."""

from __future__ import annotations

import csv
import email.utils
import io
import itertools
import tempfile
from pathlib import Path

import orjson
import pendulum
import pyarrow as pa
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sources.common.csv_arrow import inspect_csv, read_csv_tables
from sources.common.names import column_names
from sources.common.records import record_keys, records_to_table
from sources.common.retry import parse_rate_limit_reset, parse_retry_after
from sources.common.windows import grid_windows, next_cursor

FAST = settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)

# -- CSV → Arrow ---------------------------------------------------------------------

# any text a vendor might export: unicode, quotes, delimiters, line breaks; prefixed so
# the column stays text (typed columns are covered by the int column below)
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
CELL = st.one_of(st.none(), st.just(""), TEXT.map(lambda s: "x" + s))
INT_CELL = st.one_of(st.none(), st.integers(-(2**62), 2**62))


@st.composite
def csv_tables(draw: st.DrawFn) -> tuple[list[str], list[list[object]]]:
    width = draw(st.integers(1, 5))
    # names may hold quotes and delimiters, not line breaks (pyarrow's header reader
    # cannot; no vendor names a column across lines)
    name = TEXT.filter(lambda s: s.strip() == s and "\r" not in s and "\n" not in s)
    header = [f"h{i}_{draw(name)}" for i in range(width)]
    kinds = [draw(st.sampled_from(["text", "int"])) for _ in header]
    rows = draw(
        st.lists(
            st.tuples(*[CELL if kind == "text" else INT_CELL for kind in kinds]).map(list),
            max_size=30,
        )
    )
    return header, rows


def _field(value: object, quote_all: bool) -> str:
    if value is None:
        return ""  # unquoted empty: NULL
    text = str(value)
    if quote_all or text == "" or any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _write(header: list[str], rows: list[list[object]], terminator: str, quote_all: bool) -> bytes:
    """The header by Python's csv module; rows quoted minimally or all (NULL = unquoted
    empty, the empty string = `""`, which the csv module of 3.11 cannot tell apart)."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, lineterminator=terminator).writerow(header)
    for row in rows:
        buffer.write(",".join(_field(v, quote_all) for v in row) + terminator)
    return buffer.getvalue().encode()


@FAST
@given(
    csv_tables(),
    st.sampled_from(["\r\n", "\n"]),
    st.booleans(),
    st.sampled_from([1 << 10, 8 << 20]),
)
def test_csv_round_trips_exactly(table, terminator: str, bom: bool, block_size: int) -> None:
    header, rows = table
    data = (b"\xef\xbb\xbf" if bom else b"") + _write(header, rows, terminator, bom)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        path.write_bytes(data)
        layout = inspect_csv(path, block_size=block_size)
        tables = list(read_csv_tables(path, layout, block_size=block_size))
    assert layout.header == header
    assert layout.rows == len(rows)
    got = pa.concat_tables(tables).to_pylist() if tables else []
    assert [list(r.values()) for r in got] == rows


# -- JSON records → Arrow --------------------------------------------------------------

SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
VALUE = st.one_of(SCALAR, st.lists(SCALAR, max_size=3), st.dictionaries(TEXT, SCALAR, max_size=2))
KEYS = st.sampled_from(["id", "name", "value", "extra", "nested", "Ünï cödé"])
# a page whose every record is `{}` has no columns to load; any other mix must survive
PAGES = st.lists(st.dictionaries(KEYS, VALUE, max_size=6), min_size=1, max_size=25).filter(any)


def _same(value: object, cell: object) -> bool:
    if isinstance(value, dict | list):
        return cell == orjson.dumps(value).decode()
    if isinstance(cell, str) and not isinstance(value, str):
        return cell == str(value)
    return (cell == value and type(cell) is not bool) or cell is value


@FAST
@given(PAGES)
def test_records_never_lose_a_value(records: list[dict[str, object]]) -> None:
    """Missing and extra fields, None and mixed types: every value lands, nothing invented."""
    table = records_to_table(records)
    assert table.num_rows == len(records)
    keys = record_keys(records)  # each lands under its own snake_case name, none shared
    names = dict(zip(keys, column_names(keys), strict=True))
    assert table.column_names == list(names.values())
    for key in keys:
        cells = table.column(names[key]).to_pylist()
        for record, cell in zip(records, cells, strict=True):
            value = record.get(key)
            if value is None:
                assert cell is None, (key, record, cell)
            else:
                assert cell is not None and _same(value, cell), (key, value, cell)


# -- grid windows across DST changes and month ends -------------------------------------

ZONES = [
    "UTC",
    "Europe/Kyiv",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Asia/Kathmandu",  # +05:45, no DST
    "Pacific/Apia",
]
ORIGIN_DAY = (2000, 1, 3)


@st.composite
def spans(draw: st.DrawFn):
    tz = pendulum.timezone(draw(st.sampled_from(ZONES)))
    # month ends and DST weekends (March, October, November) are where grids break
    year = draw(st.integers(2020, 2030))
    month = draw(st.sampled_from([1, 2, 3, 4, 9, 10, 11, 12]))
    day = draw(st.integers(1, 28 if month == 2 else 30))
    start = pendulum.datetime(year, month, day, tz=tz).add(minutes=draw(st.integers(0, 1439)))
    end = start.add(hours=draw(st.integers(1, 24 * 95)))
    return tz, start, end, draw(st.integers(1, 35))


@FAST
@given(spans())
@example(  # found by hypothesis: a DST change that skips local midnight
    (
        pendulum.timezone("America/Santiago"),
        pendulum.datetime(2020, 9, 1, tz="America/Santiago"),
        pendulum.datetime(2020, 9, 7, 2, tz="America/Santiago"),  # and the day after
        1,
    )
)
def test_grid_windows_are_contiguous_whole_local_days(span) -> None:
    tz, start, end, days = span
    origin = pendulum.datetime(*ORIGIN_DAY, tz=tz)
    windows = list(grid_windows(origin, start, end, days))
    assert windows and windows[0].start <= start and windows[-1].end >= end
    for before, after in itertools.pairwise(windows):
        assert before.end == after.start  # contiguous, no overlap
    for window in windows:
        # the first instant of its local day: midnight, or 01:00 where a DST change skips
        # midnight (America/Santiago, 2020-09-06)
        day = window.start.date()
        assert window.start == pendulum.datetime(day.year, day.month, day.day, tz=tz)
        assert (window.end.date() - window.start.date()).days == days
        assert (window.start.date() - origin.date()).days % days == 0  # on the grid
        assert window.complete == (window.end <= end)
    # the same window from a later run has exactly the same bounds
    again = list(grid_windows(origin, windows[-1].start, end.add(days=days), days))
    assert again[0] == windows[-1] or not windows[-1].complete


@FAST
@given(spans(), st.data())
def test_next_cursor_never_moves_back_and_never_skips_a_gap(span, data) -> None:
    tz, start, end, days = span
    origin = pendulum.datetime(*ORIGIN_DAY, tz=tz)
    windows = list(grid_windows(origin, start, end, days))
    done = data.draw(st.lists(st.sampled_from(windows), unique_by=lambda w: w.start))
    cursor = data.draw(st.one_of(st.none(), st.sampled_from([w.start for w in windows])))
    run_start = windows[0].start
    moved = next_cursor(cursor, done, run_start)
    if cursor is not None:
        assert moved is not None and moved >= cursor
    if moved is not None:
        position = cursor or run_start
        covered = [w for w in done if w.end > position and w.complete]
        # every instant between the old position and the new one is in a complete window
        reach = position
        for window in sorted(covered, key=lambda w: w.start):
            if window.start <= reach:
                reach = max(reach, window.end)
        assert moved <= reach


# -- Retry-After and RateLimit-Reset --------------------------------------------------


@FAST
@given(st.floats(0, 10**6, allow_nan=False))
def test_retry_after_seconds(seconds: float) -> None:
    assert parse_retry_after(repr(seconds)) == seconds
    assert parse_retry_after(f"  {seconds}  ") == seconds


@FAST
@given(st.integers(0, 10**6), st.integers(1_600_000_000, 1_900_000_000))
def test_retry_after_http_date(delta: int, now: int) -> None:
    header = email.utils.formatdate(now + delta, usegmt=True)
    assert parse_retry_after(header, now=now) == delta
    past = email.utils.formatdate(now - delta - 1, usegmt=True)
    assert parse_retry_after(past, now=now) == 0.0


@FAST
@given(st.text(max_size=40))
def test_retry_headers_never_raise_and_never_go_negative(text: str) -> None:
    for parse in (parse_retry_after, parse_rate_limit_reset):
        value = parse(text, now=1_700_000_000)
        assert value is None or value >= 0


@FAST
@given(st.integers(0, 86_400), st.integers(1_600_000_000, 1_900_000_000))
def test_rate_limit_reset_as_delta_or_timestamp(delta: int, now: int) -> None:
    assert parse_rate_limit_reset(str(delta), now=now) == delta
    assert parse_rate_limit_reset(str(now + delta), now=now) == delta
