"""Which days a Datawiz run asks for, as windows of days, weeks or months."""

from __future__ import annotations

from datetime import date, timedelta

import pendulum

from sources.common.windows import (
    DEFAULT_HISTORY_DAYS,
    Window,
    day_start,
    next_cursor,
    parse_datetime,
    timezone,
)
from sources.datawiz.config import SOURCE


class DayPlan:
    """Which days a run asks for: from a cursor (first day not loaded) minus the
    lookback, or from start_date, or a backfill, up to yesterday; cut into chunks."""

    def __init__(
        self,
        *,
        tz: pendulum.Timezone,
        first_day: date,
        lookback_days: int,
        chunk_days: int,
        backfill_start: date | None,
        backfill_end: date | None,
    ) -> None:
        self.tz = tz
        self.first_day = first_day
        self.lookback_days = lookback_days
        self.chunk_days = chunk_days
        self.backfill_start, self.backfill_end = backfill_start, backfill_end
        self.today = pendulum.today(tz).date()

    @classmethod
    def from_settings(
        cls,
        time_zone: str,
        start_date: str | None,
        lookback_days: int,
        chunk_days: int,
        backfill_start: str | None,
        backfill_end: str | None,
    ) -> DayPlan:
        tz = timezone(SOURCE, "time_zone", time_zone)
        first = (
            parse_datetime(SOURCE, "start_date", start_date, tz).date()
            if start_date
            else pendulum.today(tz).subtract(days=DEFAULT_HISTORY_DAYS).date()
        )

        def day(flag: str, value: str | None) -> date | None:
            return parse_datetime(SOURCE, flag, value, tz).date() if value else None

        return cls(
            tz=tz,
            first_day=first,
            lookback_days=lookback_days,
            chunk_days=chunk_days,
            backfill_start=day("--start", backfill_start),
            backfill_end=day("--end", backfill_end),
        )

    def span(self, cursor: str | None) -> tuple[date, date]:
        """[start, end) of this run's days."""
        if self.backfill_start is not None:
            start = self.backfill_start
        elif cursor:
            stored = date.fromisoformat(cursor)
            start = max(self.first_day, stored - pendulum.duration(days=self.lookback_days))
        else:
            start = self.first_day
        end = min(self.backfill_end or self.today, self.today)
        return start, end

    def windows(self, cursor: str | None, days: int | None = None) -> list[Window]:
        start, end = self.span(cursor)
        step = days or self.chunk_days
        out = []
        while start < end:
            stop = min(end, start + pendulum.duration(days=step))
            out.append(Window(day_start(start, self.tz), day_start(stop, self.tz), complete=True))
            start = stop
        return out

    def periods(self, cursor: str | None, interval: str) -> list[Window]:
        """Whole calendar weeks (Monday..Sunday) or months from the one holding the run's
        first day; the last is cut at today (it is fetched again until it is complete)."""
        start, end = self.span(cursor)
        week = interval == "week"
        first = start - timedelta(days=start.weekday()) if week else start.replace(day=1)
        out = []
        while first < end:
            step = first + timedelta(days=7 if week else 32)
            after = step if week else step.replace(day=1)
            stop = min(after, end)
            out.append(Window(day_start(first, self.tz), day_start(stop, self.tz), complete=True))
            first = after
        return out

    def snapshot(self) -> Window:
        """The run's days as one window (at least yesterday)."""
        start, end = self.span(None)
        start = min(start, end - pendulum.duration(days=1))
        return Window(day_start(start, self.tz), day_start(end, self.tz), complete=True)

    def moved(self, cursor: str | None, done: list[Window]) -> str | None:
        """The cursor after a run (never backwards, never over a gap)."""
        start, _ = self.span(cursor)
        stored = day_start(date.fromisoformat(cursor), self.tz) if cursor else None
        position = next_cursor(stored, done, day_start(start, self.tz))
        return position.date().isoformat() if position is not None else cursor
