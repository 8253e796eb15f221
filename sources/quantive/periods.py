"""Quantive's time zones (`UTC+3`), snapshot groups (`2022-W36`) and request windows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pendulum
import pyarrow as pa
import pyarrow.compute as pc

from sources.common.completeness import unreadable
from sources.common.errors import ConfigError, config_key_help

SOURCE = "quantive"
GROUP_BYS = ("day", "week", "month", "quarter", "year")
_TZ = re.compile(r"^UTC(?:(?P<sign>[+-])(?P<hours>\d{1,2})(?::(?P<minutes>\d{2}))?)?$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
_STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d")
_WEEK = re.compile(r"^(\d{4})-W(\d{1,2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")


def parse_time_zone(value: object) -> tuple[str, pendulum.FixedTimezone]:
    """`UTC`, `UTC+3`, `UTC-2`, `UTC+5:30` (the API's form) → (that text, the offset)."""
    text = str(value or "").strip().upper().replace(" ", "")
    match = _TZ.match(text)
    offset = 0
    if match and match["sign"]:
        offset = int(match["hours"]) * 3600 + int(match["minutes"] or 0) * 60
        offset = -offset if match["sign"] == "-" else offset
    if not match or abs(offset) > 14 * 3600 or int((match and match["minutes"]) or 0) >= 60:
        raise ConfigError(
            f"time_zone = {value!r} is not a UTC offset like UTC, UTC+3 or UTC-2:30 "
            "(the form the Quantive API takes)",
            source=SOURCE,
            hint=config_key_help(SOURCE, "time_zone"),
        )
    return text, pendulum.FixedTimezone(offset)


def check_group_by(value: object) -> str:
    text = str(value or "").strip().lower()
    if text not in GROUP_BYS:
        raise ConfigError(
            f"group_by = {value!r} is not one of {', '.join(GROUP_BYS)}",
            source=SOURCE,
            hint=config_key_help(SOURCE, "group_by"),
        )
    return text


def group_start(day: date, group_by: str) -> date:
    """The first day of the group (`group_by` period) that `day` falls in."""
    if group_by == "week":
        return day - timedelta(days=day.weekday())
    if group_by == "month":
        return day.replace(day=1)
    if group_by == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    if group_by == "year":
        return date(day.year, 1, 1)
    return day


def next_group(day: date, group_by: str) -> date:
    """The first day of the group after the one starting on `day`."""
    if group_by == "week":
        return day + timedelta(days=7)
    if group_by in ("month", "quarter"):
        months = 1 if group_by == "month" else 3
        index = day.year * 12 + day.month - 1 + months
        return date(index // 12, index % 12 + 1, 1)
    if group_by == "year":
        return date(day.year + 1, 1, 1)
    return day + timedelta(days=1)


def windows(first: date, last: date, group_by: str, days: int) -> Iterator[tuple[date, date]]:
    """Inclusive (from, to) windows covering [first, last], each about `days` long and made
    of whole groups, so no group is ever computed from part of its days."""
    start = group_start(first, group_by)
    while start <= last:
        end = next_group(start, group_by)
        while (end - start).days < days and end <= last:
            end = next_group(end, group_by)
        yield start, min(end - timedelta(days=1), last)
        start = end


def label_date(label: str, tz: pendulum.FixedTimezone | None = None) -> date | None:
    """The day a snapshot group label or date names: `2022-09-05`, `2022-W36`,
    `2022-09`, `2022-Q3`, `2022`; a timestamp (`2022-09-04T21:00:00Z`) counts by its
    day in `tz`, the time zone the groups were computed in."""
    try:
        if _STAMP.match(label):
            stamp = pendulum.parse(label, tz=None)  # no offset: a local time
            if isinstance(stamp, pendulum.DateTime):
                return (stamp.in_timezone(tz) if tz and stamp.tzinfo else stamp).date()
        if m := _DAY.match(label):
            return date(int(m[1]), int(m[2]), int(m[3]))
        if m := _WEEK.match(label):
            return date.fromisocalendar(int(m[1]), int(m[2]), 1)
        if m := _MONTH.match(label):
            return date(int(m[1]), int(m[2]), 1)
        if m := _QUARTER.match(label):
            return date(int(m[1]), (int(m[2]) - 1) * 3 + 1, 1)
        if m := _YEAR.match(label):
            return date(int(m[1]), 1, 1)
    except ValueError:  # pendulum's ParserError is one
        return None
    return None


def group_label(start: date, group_by: str) -> str:
    """The doc's label for the group starting on `start` (`2022-W36` for a week)."""
    if group_by == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if group_by == "month":
        return f"{start.year}-{start.month:02d}"
    if group_by == "quarter":
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    if group_by == "year":
        return str(start.year)
    return start.isoformat()


def group_starts(
    values: pa.Array, group_by: str, tz: pendulum.FixedTimezone, endpoint: str
) -> pa.Array:
    """The first day of the group each label or date names (any day inside a group
    names it: a week labelled by its Monday, its Sunday or `2022-W36` is one week),
    computed once per distinct value; nulls stay null."""

    def start(value: object) -> date | None:
        if value is None:
            return None
        day = label_date(str(value), tz)
        if day is None:
            raise unreadable(
                "expected snapshot groups named by a date, week, month, quarter or year",
                value,
                source=SOURCE,
                endpoint=endpoint,
            )
        return group_start(day, group_by)

    return _per_distinct(values, start, pa.date32())


def group_labels(starts: pa.Array, group_by: str) -> pa.Array:
    """`group_label` over a column of group first days."""
    return _per_distinct(starts, lambda d: None if d is None else group_label(d, group_by))


def _per_distinct(values: pa.Array, fn: Any, kind: pa.DataType | None = None) -> pa.Array:
    distinct = pc.unique(values)
    mapped = pa.array([fn(value) for value in distinct.to_pylist()], type=kind)
    return mapped.take(pc.index_in(values, value_set=distinct))
