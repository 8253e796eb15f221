"""Quantive's time zones (`UTC+3`), snapshot groups (`2022-W36`) and request windows."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from typing import Any

import pendulum
import pyarrow as pa
import pyarrow.compute as pc

from sources.common.completeness import unreadable
from sources.common.errors import ConfigError, config_key_help

SOURCE = "quantive"
GROUP_BYS = ("day", "week", "month", "quarter", "year")
_TZ = re.compile(r"^UTC(?:(?P<sign>[+-])(?P<hours>\d{1,2})(?::(?P<minutes>\d{2}))?)?$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")
# the doc shows `2022-W36` only; a vendor that does not zero-pad writes week 5 as `2022-W5`,
# which ISO 8601 (and so pendulum) does not read
_SHORT_WEEK = re.compile(r"^(\d{4})-W(\d)$")
_STEP: dict[str, dict[str, int]] = {
    "day": {"days": 1},
    "week": {"weeks": 1},
    "month": {"months": 1},
    "quarter": {"months": 3},
    "year": {"years": 1},
}


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


def group_start(day: date, group_by: str) -> pendulum.Date:
    """The first day of the group (`group_by` period) that `day` falls in."""
    day = pendulum.instance(day)
    if group_by == "quarter":
        return day.first_of("quarter")
    return day if group_by == "day" else day.start_of(group_by)


def next_group(start: date, group_by: str) -> pendulum.Date:
    """The first day of the group after the one starting on `start`."""
    return pendulum.instance(start).add(**_STEP[group_by])


def windows(first: date, last: date, group_by: str, days: int) -> Iterator[tuple[date, date]]:
    """Inclusive (from, to) windows covering [first, last], each about `days` long and made
    of whole groups, so no group is ever computed from part of its days."""
    start = group_start(first, group_by)
    while start <= last:
        end = next_group(start, group_by)
        while (end - start).days < days and end <= last:
            end = next_group(end, group_by)
        yield start, min(end.subtract(days=1), last)
        start = end


def label_date(label: str, tz: pendulum.FixedTimezone | None = None) -> date | None:
    """The day a snapshot group label or date names: `2022-09-05`, `2022-W36`,
    `2022-09`, `2022-Q3`, `2022`; a timestamp (`2022-09-04T21:00:00Z`) counts by its
    day in `tz`, the time zone the groups were computed in."""
    label = label.strip()
    if m := _QUARTER.match(label):  # not ISO 8601, so pendulum does not read it
        return pendulum.Date(int(m[1]), (int(m[2]) - 1) * 3 + 1, 1)
    if m := _SHORT_WEEK.match(label):
        label = f"{m[1]}-W0{m[2]}"
    try:
        parsed = pendulum.parse(label, exact=True, tz=None)  # no offset: a local time
    except ValueError:  # pendulum's ParserError is one
        return None
    if isinstance(parsed, pendulum.DateTime):
        return (parsed.in_timezone(tz) if tz and parsed.tzinfo else parsed).date()
    return parsed if isinstance(parsed, pendulum.Date) else None


def group_label(start: date, group_by: str) -> str:
    """The doc's label for the group starting on `start` (`2022-W36` for a week)."""
    if group_by == "week":
        year, week, _ = start.isocalendar()
        return f"{year}-W{week:02d}"
    if group_by == "month":
        return f"{start.year}-{start.month:02d}"
    if group_by == "quarter":
        return f"{start.year}-Q{pendulum.instance(start).quarter}"
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
