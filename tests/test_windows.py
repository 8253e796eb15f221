"""Grid windows and cursor arithmetic: DST, month ends, gaps, failures, backfills."""

from __future__ import annotations

import pendulum
import pytest

from sources.common.errors import ConfigError
from sources.common.windows import Window, grid_windows, next_cursor, parse_datetime, timezone

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
