"""The sources the CLI knows: how to build each, check it, and describe its cursors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dlt.extract.source import DltSource

import sources.kissmetrics as kissmetrics


@dataclass(frozen=True)
class SourceEntry:
    name: str
    factory: Callable[..., DltSource]
    check: Callable[[], str]
    # enough settings to build the source for `pipelines sources` without real credentials
    placeholders: dict[str, Any] = field(default_factory=dict)
    cursors: dict[str, str] = field(default_factory=dict)
    sample_query: str = ""


SOURCES: dict[str, SourceEntry] = {
    "kissmetrics": SourceEntry(
        "kissmetrics",
        kissmetrics.kissmetrics_source,
        kissmetrics.check,
        placeholders={"api_token": "placeholder", "start_date": "2024-01-01"},
        cursors={
            "report_results": "per report: end of the last complete window "
            "(state `cursors`), refetched from there minus lookback_days"
        },
        sample_query=(
            "SELECT channel, count(*) AS signups, round(sum(revenue), 2) AS revenue\n"
            "FROM kissmetrics.report_signups_by_channel GROUP BY channel ORDER BY signups DESC"
        ),
    ),
}

ORDER = ("datawiz", "holistics", "quantive", "kissmetrics")


def names() -> list[str]:
    return [name for name in ORDER if name in SOURCES]
