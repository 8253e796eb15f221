"""A wide Holistics widget export for the benchmarks: `realistic_rows` rows of 12 columns.

The sales widgets are narrow (8 short columns, ~80 bytes a row); a real export is wider
and mixes types. This widget (id `WIDGET_ID`, on dashboard 1, so its date filter is
11) exists only when the simulator's `realistic_rows` knob is above 0, and is exported
like any other: BOM, CRLF, text quoted, unquoted empty = NULL, quoted empty = "".
~110 bytes a row: an integer id, the ISO date the date filter applies to, two UTC
timestamps, three floats (`Discount` 20% NULL), three short strings, a boolean and a
`Note` that is NULL (20%), the empty string (10%) or text with commas and quotes.

Row i derives from i alone (dates from i's place in the data range, as the sales
widgets'), so a filtered export computes only its window's rows, and `note_counts` gives
the empty and NULL notes a full export holds without reading it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

WIDGET_ID = 900
KIND = "realistic"
HEADER = (
    "Order ID",
    "Order Date",
    "Created At",
    "Updated At",
    "Amount",
    "Discount",
    "Score",
    "Region",
    "Channel",
    "SKU",
    "Returning Customer",
    "Note",
)
REGIONS = ("APAC", "EMEA", "NA", "LATAM")
CHANNELS = ("web", "shop", "app", "call")
NOTES = ("ok", "gift", "late, ok", 'said "hi"', "über", "2nd try")
NULL, EMPTY, TEXT = "null", "empty", "text"
NOTE_KINDS = (NULL, NULL, EMPTY, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT)  # by i % 10
LINES_PER_CHUNK = 1_000
_MASK = (1 << 64) - 1


@dataclass(frozen=True)
class RealisticWidget:
    """What the simulator reads of a widget (sandbox.holistics.Widget's fields)."""

    id: int
    rows: int
    dashboard_id: int = 1
    title: str = "Orders, every column type"
    kind: str = KIND

    @property
    def date_filter_id(self) -> int:
        return self.dashboard_id * 10 + 1


def widget(widget_id: int, rows: int) -> RealisticWidget | None:
    """The widget, when `widget_id` is it and the simulator serves it (`rows` > 0)."""
    return RealisticWidget(WIDGET_ID, rows) if rows > 0 and widget_id == WIDGET_ID else None


def note_counts(rows: int) -> dict[str, int]:
    """How many `Note` values of rows 0..rows-1 are NULL, empty, text."""
    counts = dict.fromkeys((NULL, EMPTY, TEXT), 0)
    for offset, kind in enumerate(NOTE_KINDS):
        counts[kind] += len(range(offset, rows, len(NOTE_KINDS)))
    return counts


def csv_chunks(
    widget: RealisticWidget, first_day: date, days: int, window: tuple[str, str] | None
) -> Iterator[bytes]:
    """The export: header, then the rows whose date is in `window` (ISO dates, inclusive)."""
    lines = ["\ufeff" + ",".join(f'"{name}"' for name in HEADER)]
    span = range(widget.rows) if window is None else _rows_in(widget.rows, first_day, days, window)
    isos = [(first_day + timedelta(days=k)).isoformat() for k in range(days + 4)]
    for i in span:
        lines.append(_line(i, isos, i * days // widget.rows))
        if len(lines) >= LINES_PER_CHUNK:
            yield ("\r\n".join(lines) + "\r\n").encode()
            lines = []
    if lines:
        yield ("\r\n".join(lines) + "\r\n").encode()


def _rows_in(rows: int, first_day: date, days: int, window: tuple[str, str]) -> range:
    """Row i falls on day i * days // rows: the rows of a window are one range."""
    lo = (date.fromisoformat(window[0]) - first_day).days
    hi = (date.fromisoformat(window[1]) - first_day).days + 1
    return range(max(0, -(-lo * rows // days)), min(rows, max(0, -(-hi * rows // days))))


def _mix(i: int) -> int:
    """splitmix64: 64 well-spread bits from the row index, ~10x cheaper than a hashlib call."""
    z = (i + 0x9E3779B97F4A7C15) & _MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def _stamp(isos: list[str], day: int, second: int) -> str:
    day, second = day + second // 86_400, second % 86_400
    return f"{isos[day]}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}Z"


def _line(i: int, isos: list[str], day: int) -> str:
    h = _mix(i)
    created = h % 86_400
    updated = created + (h >> 17) % 259_200  # up to three days later
    discount = "" if h % 5 == 0 else f"{(h >> 8) % 50 / 100:.2f}"
    kind = NOTE_KINDS[i % len(NOTE_KINDS)]
    note = "" if kind == NULL else '""' if kind == EMPTY else _quoted(NOTES[(h >> 50) % len(NOTES)])
    return (
        f"{i + 1},{isos[day]},{_stamp(isos, day, created)},{_stamp(isos, day, updated)},"
        f"{(h >> 20) % 100_000 / 100:.2f},{discount},{(h >> 40) % 100 / 100:.2f},"
        f'"{REGIONS[(h >> 12) % 4]}","{CHANNELS[(h >> 14) % 4]}","P{(h >> 28) % 10_000:04d}",'
        f"{'true' if (h >> 16) % 3 == 0 else 'false'},{note}"
    )


def _quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'
