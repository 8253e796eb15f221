"""Which date windows a report run asks for: the grid, the cursor, lookback and backfill."""

from __future__ import annotations

import logging
from typing import Any

import pendulum

from sources.common.windows import (
    DEFAULT_HISTORY_DAYS,
    Window,
    grid_windows,
    parse_datetime,
)
from sources.kissmetrics.client import SOURCE

log = logging.getLogger(__package__)


class WindowPlan:
    """Which windows a run asks for, from a report's cursor, the lookback and a backfill.

    Windows lie on a grid anchored at a fixed Monday, so moving `start_date` never
    shifts them. The grid (days, time zone) of the first run is kept in state: changing
    `window_days` or `time_zone` later would misalign re-fetched windows with loaded ones,
    so the stored grid wins until `--full-refresh`."""

    ANCHOR = (2000, 1, 3)

    def __init__(
        self,
        *,
        days: int,
        tz: pendulum.Timezone,
        start: pendulum.DateTime,
        lookback_days: int,
        backfill_start: pendulum.DateTime | None,
        backfill_end: pendulum.DateTime | None,
    ) -> None:
        self.days, self.tz, self.start, self.lookback_days = days, tz, start, lookback_days
        self.backfill_start, self.backfill_end = backfill_start, backfill_end
        self.origin = pendulum.datetime(*self.ANCHOR, tz=tz)

    @classmethod
    def from_state(
        cls,
        state: dict[str, Any],
        grid: dict[str, Any],
        start_date: str | None,
        lookback_days: int,
        backfill_start: str | None,
        backfill_end: str | None,
    ) -> WindowPlan:
        stored = state.setdefault("grid", dict(grid))
        if stored != grid:
            log.warning(
                "%s: window_days/time_zone changed from %s to %s; keeping the grid of "
                "the loaded data (run with --full-refresh to change it)",
                SOURCE,
                stored,
                grid,
            )
        tz = pendulum.timezone(stored["time_zone"])
        start = (
            parse_datetime(SOURCE, "start_date", start_date, tz)
            if start_date
            else pendulum.today(tz).subtract(days=DEFAULT_HISTORY_DAYS)
        )
        return cls(
            days=stored["days"],
            tz=tz,
            start=start,
            lookback_days=lookback_days,
            backfill_start=_optional_date("--start", backfill_start, tz),
            backfill_end=_optional_date("--end", backfill_end, tz),
        )

    def cursor(self, stored: str | None) -> pendulum.DateTime | None:
        return pendulum.parse(stored).in_timezone(self.tz) if stored else None

    def run_start(self, stored: str | None) -> pendulum.DateTime:
        """Where this run's windows begin, snapped to the grid."""
        if self.backfill_start is not None:
            begin = self.backfill_start
        else:
            cursor = self.cursor(stored)
            begin = self.start if cursor is None else cursor.subtract(days=self.lookback_days)
        first = next(grid_windows(self.origin, begin, begin.add(seconds=1), self.days))
        return first.start

    def windows(self, stored: str | None) -> list[Window]:
        end = self.backfill_end or pendulum.now(self.tz)
        return list(grid_windows(self.origin, self.run_start(stored), end, self.days))


def _optional_date(flag: str, value: str | None, tz: pendulum.Timezone) -> pendulum.DateTime | None:
    if value is None:
        return None
    return parse_datetime(SOURCE, flag, value, tz)
