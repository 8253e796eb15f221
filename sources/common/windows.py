"""Date windows on a fixed grid, and the cursor arithmetic of incremental runs.

Windows start at `origin + k * days` in the source's time zone, so a window fetched
again on a later run (lookback, late data) has exactly the same bounds as before and its
rows replace the earlier ones (merge key = window start). pendulum does the calendar
maths: a day is a local day, 23 or 25 hours long across a DST change."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pendulum
from pendulum import DateTime

from sources.common.errors import ConfigError, config_key_help

DEFAULT_HISTORY_DAYS = 30  # a first run without start_date loads this many days back


@dataclass(frozen=True)
class Window:
    start: DateTime
    end: DateTime  # exclusive
    complete: bool  # False when `end` is still in the future

    @property
    def last_second(self) -> DateTime:
        """The inclusive end some APIs want: one second before the next window."""
        return self.end.subtract(seconds=1)


def timezone(source: str, key: str, name: str) -> pendulum.Timezone:
    try:
        return pendulum.timezone(name)
    except Exception:
        raise ConfigError(
            f"{key} = {name!r} is not a known IANA time zone",
            source=source,
            hint=config_key_help(source, key),
        ) from None


def parse_datetime(source: str, key: str, value: object, tz: pendulum.Timezone) -> DateTime:
    """An ISO date or datetime from config or the command line, in `tz` when it has no offset."""
    if isinstance(value, DateTime):
        return value.in_timezone(tz)
    try:
        parsed = pendulum.parse(str(value), tz=tz)
    except Exception:
        parsed = None
    if isinstance(parsed, pendulum.Date) and not isinstance(parsed, DateTime):
        parsed = day_start(parsed, tz)
    if not isinstance(parsed, DateTime):
        raise ConfigError(
            f"{key} = {value!r} is not an ISO date or datetime",
            source=source,
            hint=config_key_help(source, key),
        )
    return parsed.in_timezone(tz)


def grid_windows(origin: DateTime, start: DateTime, end: DateTime, days: int) -> Iterator[Window]:
    """Grid windows of `days` local days that cover [start, end).

    Each bound is computed from the origin's date, not by adding days to the previous
    bound: where a DST change skips midnight (America/Santiago, 2020-09-06) that day
    starts at 01:00, and the days after it must start at midnight again."""
    first = origin.date()
    index = (start.date() - first).days // days
    window_start = day_start(first.add(days=index * days), origin.timezone)
    while window_start < end:
        index += 1
        window_end = day_start(first.add(days=index * days), origin.timezone)
        yield Window(window_start, window_end, complete=window_end <= end)
        window_start = window_end


def day_start(day: date, tz: pendulum.Timezone) -> DateTime:
    """The first instant of a local day: midnight, or later where a DST change skips it."""
    return pendulum.datetime(day.year, day.month, day.day, tz=tz)


def next_cursor(cursor: DateTime | None, done: list[Window], start: DateTime) -> DateTime | None:
    """The cursor after a run: moved over the complete windows that continue it unbroken.

    `start` is where the run began when there was no cursor yet. A backfill that starts
    after the cursor would leave a gap, a failed window stops the cursor before it, and
    the cursor never moves back."""
    position = cursor if cursor is not None else start
    for window in sorted(done, key=lambda w: w.start):
        if window.end <= position:
            continue
        if window.start > position or not window.complete:
            break
        position = window.end
    if cursor is None and position == start:
        return None
    return position
