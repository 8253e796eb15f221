"""`report_runs`: one row per report window loaded, with the links of the query that
produced it and the rows it had.

Every results answer links to an export of the query's results (kissmetrics-api.md:
241-246, rel `export`); the doc says nothing else about it (method, format, lifetime), so
it is recorded here, not downloaded: the rows themselves are read by the documented
paging, which is counted against `pagination.total`. A row is written in the same load as
its window's rows and only for a window that loaded; a re-fetched window replaces its row
with the newer query's links."""

from __future__ import annotations

from typing import Any

import dlt

from sources.common.windows import Window

TABLE = "report_runs"
KEY = ("report_id", "_window_start")
HINTS = dlt.mark.make_hints(
    table_name=TABLE, write_disposition="merge", primary_key=KEY, merge_key=KEY
)


def run_row(report_id: str, results_table: str, window: Window, run: dict[str, Any]) -> Any:
    """The `report_runs` row of a loaded window; `run` as `Client.runs` keeps it."""
    row = {
        "report_id": report_id,
        "results_table": results_table,
        "_window_start": window.start,
        "_window_end": window.end,
        **run,
    }
    return dlt.mark.with_hints([row], HINTS, create_table_variant=True)
