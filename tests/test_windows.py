"""Grid windows and cursor arithmetic: DST, month ends, gaps, failures, backfills; Quantive's
snapshot groups and the windows made of them."""

from __future__ import annotations

from datetime import date

import pendulum
import pytest

from sources.common.errors import ConfigError
from sources.common.windows import Window, grid_windows, next_cursor, parse_datetime, timezone
from sources.quantive import _day as quantive_day
from sources.quantive import periods

NY = pendulum.timezone("America/New_York")
ORIGIN = pendulum.datetime(2000, 1, 3, tz=NY)


def test_windows_are_local_days_across_a_dst_change() -> None:
    start = pendulum.datetime(2026, 3, 7, tz=NY)
    windows = list(grid_windows(ORIGIN, start, pendulum.datetime(2026, 3, 10, tz=NY), 1))
    assert [w.start.day for w in windows] == [7, 8, 9]
    hours = [(w.end - w.start).in_hours() for w in windows]
    assert hours == [24, 23, 24]  # 8 March 2026 loses an hour in New York
    assert windows[1].last_second.isoformat() == "2026-03-08T23:59:59-04:00"


def test_windows_snap_to_the_grid_whatever_the_start() -> None:
    mid_week = pendulum.datetime(2026, 1, 29, 15, tz=NY)  # a Thursday afternoon
    first = next(grid_windows(ORIGIN, mid_week, mid_week.add(days=1), 7))
    assert first.start == pendulum.datetime(2026, 1, 26, tz=NY)  # the Monday before
    assert first.end == pendulum.datetime(2026, 2, 2, tz=NY)  # across the month end


def test_the_last_window_is_incomplete_until_its_end_has_passed() -> None:
    now = pendulum.datetime(2026, 2, 28, 13, tz=NY)
    windows = list(grid_windows(ORIGIN, now.subtract(days=2), now, 1))
    assert [w.complete for w in windows] == [True, True, False]


def day(d: int, complete: bool = True) -> Window:
    start = pendulum.datetime(2026, 5, d, tz="UTC")
    return Window(start, start.add(days=1), complete)


def test_cursor_moves_over_contiguous_complete_windows() -> None:
    cursor = pendulum.datetime(2026, 5, 3, tz="UTC")
    assert next_cursor(
        cursor, [day(2), day(3), day(4), day(5, complete=False)], day(2).start
    ) == pendulum.datetime(2026, 5, 5, tz="UTC")


def test_cursor_stops_before_a_failed_window() -> None:
    done = [day(1), day(2), day(4)]  # day 3 failed
    assert next_cursor(None, done, day(1).start) == pendulum.datetime(2026, 5, 3, tz="UTC")


def test_cursor_never_moves_back_and_ignores_a_backfill_after_a_gap() -> None:
    cursor = pendulum.datetime(2026, 5, 10, tz="UTC")
    assert next_cursor(cursor, [day(1), day(2)], day(1).start) == cursor
    assert next_cursor(cursor, [day(20), day(21)], day(20).start) == cursor


def test_no_cursor_and_nothing_done_stays_unset() -> None:
    assert next_cursor(None, [], day(1).start) is None


@pytest.mark.parametrize("value", ["2026-02-30", "yesterday-ish", "31/12/2025"])
def test_bad_dates_are_configuration_errors_naming_the_key(value: str) -> None:
    with pytest.raises(ConfigError, match="start_date"):
        parse_datetime("kissmetrics", "start_date", value, NY)


def test_dates_without_offset_take_the_source_zone() -> None:
    parsed = parse_datetime(
        "kissmetrics", "start_date", "2026-10-25", pendulum.timezone("Europe/Kyiv")
    )
    assert parsed.isoformat() == "2026-10-25T00:00:00+03:00"


def test_unknown_time_zone_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="time_zone"):
        timezone("kissmetrics", "time_zone", "Mars/Olympus")


# Quantive's snapshot groups (sources/quantive/periods.py): pendulum's calendar maths


@pytest.mark.parametrize(
    ("group_by", "day", "start", "after"),
    [
        ("day", "2022-12-31", "2022-12-31", "2023-01-01"),
        ("week", "2021-01-01", "2020-12-28", "2021-01-04"),  # a Friday: Monday of 2020-W53
        ("week", "2026-01-01", "2025-12-29", "2026-01-05"),  # 2026-W01 starts in 2025
        ("month", "2024-02-29", "2024-02-01", "2024-03-01"),
        ("quarter", "2022-12-31", "2022-10-01", "2023-01-01"),
        ("quarter", "2023-01-01", "2023-01-01", "2023-04-01"),
        ("quarter", "2023-05-15", "2023-04-01", "2023-07-01"),
        ("year", "2022-07-15", "2022-01-01", "2023-01-01"),
    ],
)
def test_a_group_starts_on_its_first_day_and_the_next_one_follows_it(
    group_by: str, day: str, start: str, after: str
) -> None:
    first = periods.group_start(date.fromisoformat(day), group_by)
    assert first.isoformat() == start
    assert periods.next_group(first, group_by).isoformat() == after


@pytest.mark.parametrize(
    ("group_by", "start", "label"),
    [
        ("day", "2022-09-05", "2022-09-05"),
        ("week", "2022-09-05", "2022-W36"),
        ("week", "2020-12-28", "2020-W53"),
        ("week", "2025-12-29", "2026-W01"),
        ("month", "2022-09-01", "2022-09"),
        ("quarter", "2022-07-01", "2022-Q3"),
        ("quarter", "2022-10-01", "2022-Q4"),
        ("year", "2022-01-01", "2022"),
    ],
)
def test_a_group_label_names_its_first_day_and_reads_back(
    group_by: str, start: str, label: str
) -> None:
    assert periods.group_label(date.fromisoformat(start), group_by) == label
    assert periods.label_date(label) == date.fromisoformat(start)


def test_a_timestamp_label_counts_by_its_day_in_the_groups_time_zone() -> None:
    _, plus_three = periods.parse_time_zone("UTC+3")
    assert periods.label_date("2022-09-04T21:00:00.000Z", plus_three) == date(2022, 9, 5)
    assert periods.label_date("2022-09-04T21:00:00.000Z") == date(2022, 9, 4)
    assert periods.label_date("2022-09-04T21:00:00", plus_three) == date(2022, 9, 4)  # local


@pytest.mark.parametrize(
    ("label", "day"),
    [("2022-W1", "2022-01-03"), ("2022-W5", "2022-01-31"), ("2022-W05", "2022-01-31")],
)
def test_a_week_label_reads_with_or_without_its_leading_zero(label: str, day: str) -> None:
    assert periods.label_date(label) == date.fromisoformat(day)


@pytest.mark.parametrize("label", ["2022-W54", "2022-Q5", "2022-13", "someday", "12:00", ""])
def test_a_label_that_names_no_day_is_none(label: str) -> None:
    assert periods.label_date(label) is None


@pytest.mark.parametrize(
    ("group_by", "first", "last", "days", "expected"),
    [
        (
            "quarter",
            "2022-11-15",
            "2023-02-10",
            92,
            [("2022-10-01", "2022-12-31"), ("2023-01-01", "2023-02-10")],
        ),
        (
            "week",
            "2020-12-30",
            "2021-01-20",
            14,
            [("2020-12-28", "2021-01-10"), ("2021-01-11", "2021-01-20")],
        ),
        (
            "month",
            "2024-01-31",
            "2024-03-01",
            1,
            [
                ("2024-01-01", "2024-01-31"),
                ("2024-02-01", "2024-02-29"),
                ("2024-03-01", "2024-03-01"),
            ],
        ),
    ],
)
def test_request_windows_are_whole_groups_across_year_ends(
    group_by: str, first: str, last: str, days: int, expected: list
) -> None:
    windows = periods.windows(date.fromisoformat(first), date.fromisoformat(last), group_by, days)
    got = [(a.isoformat(), b.isoformat()) for a, b in windows]
    assert got == expected


@pytest.mark.parametrize(
    ("value", "time_zone", "day"),
    [
        ("2022-09-04T22:30:00Z", "UTC+3", "2022-09-05"),  # already the 5th in UTC+3
        ("2022-09-04T22:30:00Z", "UTC", "2022-09-04"),
        ("2022-09-05T01:00:00+02:00", "UTC-2", "2022-09-04"),
        ("2022-09-05", "UTC-2", "2022-09-05"),  # a date is that day wherever
        ("2022-09-05T01:00:00", "UTC+5:30", "2022-09-05"),  # no offset: a time there
    ],
)
def test_start_and_end_count_by_their_day_in_the_configured_time_zone(
    value: str, time_zone: str, day: str
) -> None:
    _, tz = periods.parse_time_zone(time_zone)
    assert quantive_day("start_date", value, tz).isoformat() == day
