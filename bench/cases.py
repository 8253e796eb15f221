"""What each bulk case loads: the sandbox size and settings that give one N-row result."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

KISSMETRICS_REPORT = "64361c30-4a48-0131-0cbb-22000a9f1c0f"  # "Signups by Channel"
HOLISTICS_WIDGET = 100  # a sales widget of dashboard 1; its date filter is 11
HOLISTICS_DASHBOARDS = 23  # sandbox.holistics.N_DASHBOARDS: rows are split over them
KISSMETRICS_REPORTS = 3


@dataclass(frozen=True)
class Case:
    source: str
    table: str  # the large table the run loads
    kind: str  # "csv" or "json"
    what: str

    def sandbox_rows(self, rows: int) -> int:
        if self.source == "holistics":
            return rows * HOLISTICS_DASHBOARDS
        if self.source == "kissmetrics":
            return rows * KISSMETRICS_REPORTS
        return rows

    def faults(self) -> str:
        return {
            # quotas off: the untimed warm-up runs would use up the minute's list quota
            # and the timed run would wait it out (the jobs case runs under the quotas)
            "holistics": "holistics.cache_exports=true,holistics.quota_window=0",
            "kissmetrics": "kissmetrics.cache_pages=true",
            "datawiz": "datawiz.cache_pages=true",
            "quantive": "",
        }[self.source]

    def env(self) -> dict[str, str]:
        """Settings that restrict the source to its one large resource."""
        if self.source == "holistics":
            widget = {"date_filter_id": 11, "primary_key": ["Row ID"]}
            return {
                "SOURCES__HOLISTICS__DASHBOARD_IDS": "[]",
                "SOURCES__HOLISTICS__WIDGET_IDS": json.dumps([HOLISTICS_WIDGET]),
                "SOURCES__HOLISTICS__WIDGETS": json.dumps({str(HOLISTICS_WIDGET): widget}),
                "SOURCES__HOLISTICS__POLL_INTERVAL": "0.05",
            }
        if self.source == "kissmetrics":
            return {
                "SOURCES__KISSMETRICS__REPORT_IDS": json.dumps([KISSMETRICS_REPORT]),
                "SOURCES__KISSMETRICS__POLL_INTERVAL": "0.05",
            }
        if self.source == "datawiz":
            table = {
                "name": "bench_sales",
                "aggregate": ["turnover", "qty"],
                "group_by": ["shop", "product"],
            }
            return {
                "SOURCES__DATAWIZ__TABLES": json.dumps([table]),
                "SOURCES__DATAWIZ__REPORTS": "[]",
            }
        return {
            "SOURCES__QUANTIVE__INSIGHT_IDS": "[]",
            "SOURCES__QUANTIVE__STATISTICS_PERIODS": "[]",
        }


CASES: dict[str, Case] = {
    "holistics": Case("holistics", f"widget_{HOLISTICS_WIDGET}", "csv", "CSV export of one widget"),
    "datawiz": Case("datawiz", "bench_sales", "json", "builder table, shop x product x day"),
    "kissmetrics": Case(
        "kissmetrics", "report_signups_by_channel", "json", "report results, positional rows"
    ),
    "quantive": Case("quantive", "kpi_snapshots", "json", "daily snapshots of 200 KPIs"),
}


def merged(*parts: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in parts:
        out.update({k: str(v) for k, v in part.items()})
    return out
