"""How the query host wants a run's `start_date`/`end_date`: the doc's prose says Unix
seconds, its example ISO-8601 with the zone's offset (kissmetrics-api.md)."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

import pendulum

SOURCE = "kissmetrics"
log = logging.getLogger(__package__)


class RunDates:
    """How the query host wants `start_date`/`end_date`: ISO-8601 with the offset (the
    doc's example) or Unix seconds (its prose). `form` is what the next run tries first;
    `accepted` the form a host took this session, which the source keeps in state."""

    LABELS: ClassVar[dict[str, str]] = {
        "iso": "ISO-8601 datetimes",
        "unix": "Unix timestamps in seconds",
    }

    def __init__(self, form: str | None) -> None:
        self.form = form if form in self.LABELS else "iso"
        self.accepted: str | None = None

    @staticmethod
    def other(form: str) -> str:
        return "unix" if form == "iso" else "iso"

    @staticmethod
    def body(form: str, start: pendulum.DateTime, end: pendulum.DateTime) -> dict[str, Any]:
        if form == "unix":
            return {"start_date": int(start.timestamp()), "end_date": int(end.timestamp())}
        return {"start_date": start.isoformat(), "end_date": end.isoformat()}

    def refused(self, form: str, why: str) -> None:
        if self.form == form and self.accepted is None:
            self.form = self.other(form)
            log.warning(
                "%s: the query host refused run dates as %s (%s); trying %s",
                SOURCE,
                self.LABELS[form],
                why,
                self.LABELS[self.form],
            )

    def worked(self, form: str) -> None:
        if self.accepted != form:
            self.accepted = self.form = form
            log.info("%s: run dates sent as %s", SOURCE, self.LABELS[form])
