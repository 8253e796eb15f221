"""What each bulk subject loads: the sandbox size and settings that give one N-row result,
and the paging the latency case uses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bench.harness import merged
from sandbox.holistics_realistic import WIDGET_ID as CSV_WIDGET

CSV_DATE_FILTER = 11  # the realistic widget is on dashboard 1
CSV_KEY, CSV_DATE = "order_id", "order_date"  # its primary key and date-filter field
KISSMETRICS_REPORT = "64361c30-4a48-0131-0cbb-22000a9f1c0f"  # "Signups by Channel"
KISSMETRICS_REPORTS = 3
SANDBOX_DEFAULT_ROWS = 3_000  # the other vendors' data when only the CSV widget is read


@dataclass(frozen=True)
class Case:
    source: str
    table: str  # the large table the run loads
    kind: str  # "csv" or "json"
    what: str
    rows_per_row: int  # the sandbox's --rows per row of the result; 0: its default size
    cache: str  # the simulator's benchmark cache knob, if it has one
    settings: dict[str, Any]  # restrict the source to its one large resource
    # the latency case's page sizes and concurrency; see bench/README.md for why these
    paging: dict[str, Any]

    def sandbox(self, rows: int, *, latency: float = 0.0) -> tuple[int, str]:
        """`--rows` and `--faults` of a sandbox that serves an N-row result. The caches
        keep the simulator from being the bound. With `latency` every answer waits that
        long and Holistics' documented quotas stay on; without, they are off: the untimed
        warm-up runs would use up the minute's list quota and the timed run would wait."""
        faults = [f"{self.source}.{self.cache}=true"] if self.cache else []
        if self.kind == "csv":
            faults.append(f"holistics.realistic_rows={rows}")
            if not latency:
                faults.append("holistics.quota_window=0")
        if latency:
            faults.append(f"{self.source}.slow_seconds={latency}")
        return rows * self.rows_per_row or SANDBOX_DEFAULT_ROWS, ",".join(faults)

    def env(self, *, latency: bool = False) -> dict[str, str]:
        return merged(self.settings, self.paging if latency else {})


# the sandbox's env() switches on Holistics' opt-in metadata for the demo; a benchmark of
# exports measures the exports alone
HOLISTICS_EXPORTS_ONLY = {
    "SOURCES__HOLISTICS__DASHBOARD_IDS": "[]",
    "SOURCES__HOLISTICS__WIDGET_SOURCES": "false",
    "SOURCES__HOLISTICS__DEPENDENCY_TYPES": "[]",
    "SOURCES__HOLISTICS__DATA_MODEL_PROJECTS": "[]",
    "SOURCES__HOLISTICS__USER_ATTRIBUTE_ENTRIES": "false",
}

CASES: dict[str, Case] = {
    "holistics": Case(
        "holistics",
        f"widget_{CSV_WIDGET}",
        "csv",
        "CSV export, 12 columns (sandbox/holistics_realistic.py)",
        0,
        "cache_exports",
        {
            **HOLISTICS_EXPORTS_ONLY,
            "SOURCES__HOLISTICS__WIDGET_IDS": json.dumps([CSV_WIDGET]),
            "SOURCES__HOLISTICS__WIDGETS": json.dumps(
                {str(CSV_WIDGET): {"date_filter_id": CSV_DATE_FILTER, "primary_key": ["Order ID"]}}
            ),
            "SOURCES__HOLISTICS__POLL_INTERVAL": "0.05",
        },
        # lists: `limit` [1..100] (holistics-api-v2.txt:1126); the export is one file
        {"SOURCES__HOLISTICS__PAGE_SIZE": 100},
    ),
    "datawiz": Case(
        "datawiz",
        "bench_sales",
        "json",
        "builder table, shop x product x day",
        1,
        "cache_pages",
        {
            "SOURCES__DATAWIZ__TABLES": json.dumps(
                [
                    {
                        "name": "bench_sales",
                        "aggregate": ["turnover", "qty"],
                        "group_by": ["shop", "product"],
                    }
                ]
            ),
            "SOURCES__DATAWIZ__REPORTS": "[]",
        },
        # the doc has no paging parameters at all: the source's defaults
        {"SOURCES__DATAWIZ__PAGE_SIZE": 1000, "SOURCES__DATAWIZ__PAGE_CONCURRENCY": 4},
    ),
    "kissmetrics": Case(
        "kissmetrics",
        "report_signups_by_channel",
        "json",
        "report results, positional rows",
        KISSMETRICS_REPORTS,
        "cache_pages",
        {
            "SOURCES__KISSMETRICS__REPORT_IDS": json.dumps([KISSMETRICS_REPORT]),
            "SOURCES__KISSMETRICS__POLL_INTERVAL": "0.05",
        },
        # the doc shows `limit` 50 and no maximum: the source's defaults
        {"SOURCES__KISSMETRICS__PAGE_SIZE": 1000, "SOURCES__KISSMETRICS__PAGE_CONCURRENCY": 4},
    ),
    "quantive": Case(
        "quantive",
        "kpi_snapshots",
        "json",
        "daily snapshots of 200 KPIs",
        1,
        "",
        {"SOURCES__QUANTIVE__INSIGHT_IDS": "[]", "SOURCES__QUANTIVE__STATISTICS_PERIODS": "[]"},
        # the doc documents no paging and no limit on `ids`: the source's defaults
        {
            "SOURCES__QUANTIVE__PAGE_SIZE": 100,
            "SOURCES__QUANTIVE__SNAPSHOT_BATCH_SIZE": 50,
            "SOURCES__QUANTIVE__CONCURRENCY": 8,
        },
    ),
}
