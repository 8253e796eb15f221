"""Kissmetrics: the reports list, what it links to, and each report's results over
date windows.

Tables: `reports` (HAL links kept as JSON; only the `product_ids` when set), its linked
`report_details`, `products` and `accounts` (sources/kissmetrics/metadata.py; each, like
`reports`, replaced whole by a run that read all of it), `report_<name>` per report, one
row per result row, stamped with its window (`_window_start`, `_window_end`) and position
(`_row_number`), and `report_runs`, one row per window loaded (sources/kissmetrics/runs.py).

Incremental: each report keeps the end of its last complete window in resource state
(`cursors`). A run fetches grid windows of `window_days` from that cursor minus
`lookback_days` up to now; re-fetched windows replace their rows (merge key
`_window_start`), so late data is picked up and nothing is doubled. A report's windows
are spooled to disk until they are complete: a window that fails loads nothing and
stops that report's cursor before it, and its older rows stay as they were.

Why not `dlt.sources.incremental`: the cursor is a request window, per report, not a
column of monotonic values; one report failing must not hold back or push on another.

A report whose windows fail is reported once, by its earliest failed window (the one that
holds the cursor) and the count of the others, not once per window. The date form the
query host took (`run_dates`: ISO-8601 or Unix seconds) is kept in resource state, so the
next run sends it first (sources/kissmetrics/client.py)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import dlt
import pendulum
import pyarrow as pa

from sources.common.arrow import Spool, conform
from sources.common.discovery import Discovery
from sources.common.errors import ConfigError, config_key_help
from sources.common.jobs import fan_in
from sources.common.names import normalized_table, with_fields
from sources.common.settings import (
    optional_list,
    require_non_negative,
    require_positive,
)
from sources.common.stats import record_part_failure
from sources.common.windows import Window, next_cursor, parse_datetime, timezone
from sources.kissmetrics import catalog, client, metadata, runs
from sources.kissmetrics.client import ADDED_COLUMNS, SOURCE, Client
from sources.kissmetrics.config import KissmetricsConfig
from sources.kissmetrics.plan import WindowPlan

log = logging.getLogger(__name__)
WINDOW_KEY, WINDOW_END, ROW_NUMBER = ADDED_COLUMNS
TABLES_KEY = "report_tables"  # source state: report id → its results table, fixed


@dlt.source(name=SOURCE, section=SOURCE, max_table_nesting=0, spec=KissmetricsConfig)
def kissmetrics_source(
    config: KissmetricsConfig = None,
    backfill_start: str | None = None,
    backfill_end: str | None = None,
) -> Any:
    """Kissmetrics reports and report results; `backfill_*` come from `run --start/--end`."""
    grid = {
        "days": int(require_positive(SOURCE, "window_days", config.window_days)),
        "time_zone": timezone(SOURCE, "time_zone", config.time_zone).name,
    }
    lookback = int(require_non_negative(SOURCE, "lookback_days", config.lookback_days))
    start_date = config.start_date
    if start_date:  # checked now, with the rest of the configuration, not mid-extract
        parse_datetime(SOURCE, "start_date", start_date, pendulum.timezone(grid["time_zone"]))
    wanted = optional_list(SOURCE, "report_ids", config.report_ids)
    products = optional_list(SOURCE, "product_ids", config.product_ids)
    columns = check_report_columns(config.report_columns)
    workers = int(require_positive(SOURCE, "concurrency", config.concurrency))

    @dlt.resource(
        name="reports",
        **metadata.hints(links={"data_type": "json"}, columns={"data_type": "json"}),
    )
    async def reports() -> AsyncIterator[Any]:
        async with client.session(config) as http_session:
            listed = await Client(http_session, config).list_reports()
            listed = await metadata.select_products(http_session, listed, products, config.api_url)
        tables = table_names(listed, dlt.current.source_state().setdefault(TABLES_KEY, {}))
        rows = [with_fields(r, {"results_table": tables[str(r["id"])]}) for r in listed]
        yield metadata.snapshot("reports", rows)

    @dlt.transformer(
        data_from=reports,
        name="report_results",
        write_disposition="merge",
        # A window is replaced whole, so the merge key alone says what a load replaces; its
        # rows are unique by (_window_start, _row_number) by construction. Declaring that
        # as primary key too would make dlt delete on `merge key OR primary key`, a join
        # DuckDB can only run as a cross product (out of memory on a 1M-row rerun), and
        # sort every load to deduplicate rows that cannot repeat.
        merge_key=WINDOW_KEY,
    )
    async def report_results(listed: Any) -> AsyncIterator[Any]:
        # the reports, or (none listed) the marker that empties `reports`
        selected = select_reports(listed if isinstance(listed, list) else [], wanted, products)
        state = dlt.current.resource_state()
        cursors: dict[str, str] = state.setdefault("cursors", {})
        plan = WindowPlan.from_state(
            state, grid, start_date, lookback, backfill_start, backfill_end
        )
        tables = table_names(selected, dlt.current.source_state().setdefault(TABLES_KEY, {}))
        jobs = [
            (report, window)
            for report in selected
            for window in plan.windows(cursors.get(report["id"]))
        ]
        done: dict[str, list[Window]] = {report["id"]: [] for report in selected}
        failed: dict[str, list[tuple[Window, BaseException]]] = {}
        spools: dict[tuple[str, Any], Spool] = {}
        async with client.session(config) as http_session:
            km = Client(http_session, config, run_dates=state.get("run_dates"))

            async def fetch(job: tuple[dict[str, Any], Window]) -> AsyncIterator[pa.Table]:
                report, window = job
                names = column_names(report, columns)
                async for offset, table in km.run_report(report, window, names):
                    yield stamp(table, window, offset)

            try:
                async for outcome in fan_in(jobs, fetch, concurrency=workers):
                    report, window = outcome.spec
                    key = (report["id"], window.start)
                    if outcome.item is not None:
                        spools.setdefault(key, Spool()).write(outcome.item)
                        continue
                    spool = spools.pop(key, None) or Spool()
                    with spool:
                        if outcome.error is not None:
                            failed.setdefault(report["id"], []).append((window, outcome.error))
                            continue
                        done[report["id"]].append(window)
                        name = tables[str(report["id"])]
                        schema = dlt.current.source_schema()
                        known = schema.tables.get(name, {}).get("columns", {})
                        for table in spool.tables():
                            yield dlt.mark.with_table_name(conform(table, known), name)
                        if run := km.runs.pop(key, None):
                            yield runs.run_row(report["id"], name, window, run)
            finally:
                for spool in spools.values():
                    spool.close()
        if km.dates.accepted:
            state["run_dates"] = km.dates.accepted
        for report_id, failures in failed.items():
            record_failures(failures, len(done[report_id]) + len(failures), tables[str(report_id)])
        for report in selected:
            stored = cursors.get(report["id"])
            moved = next_cursor(plan.cursor(stored), done[report["id"]], plan.run_start(stored))
            if moved is not None:
                cursors[report["id"]] = moved.isoformat()

    linked = metadata.resources(
        reports, config, product_ids=products, details=config.report_details, workers=workers
    )
    return reports, report_results, *linked


def check() -> str:
    """One cheap authenticated call: list the reports."""
    config = KissmetricsConfig.resolved()

    async def call() -> str:
        async with client.session(config) as http_session:
            reports = await Client(http_session, config).list_reports()
        return f"token accepted, {len(reports)} report(s) visible"

    return asyncio.run(call())


def discover() -> Discovery:
    return asyncio.run(catalog.discover(KissmetricsConfig.resolved()))


def select_reports(
    listed: list[dict[str, Any]], wanted: list[str], products: list[str]
) -> list[dict[str, Any]]:
    if not wanted:
        return listed
    by_id = {str(r.get("id")): r for r in listed}
    unknown = [rid for rid in wanted if rid not in by_id]
    if unknown:
        scope = "the product_ids have" if products else "the account has"
        raise ConfigError(
            f"report_ids names unknown report(s) {', '.join(unknown)}; "
            f"{scope} {', '.join(sorted(by_id)) or 'none'}",
            source=SOURCE,
            resource="report_results",
            hint=config_key_help(SOURCE, "report_ids"),
        )
    return [by_id[rid] for rid in wanted]


def table_names(reports: list[dict[str, Any]], fixed: dict[str, str]) -> dict[str, str]:
    """`report_<name>` per report id, fixed on first sight in `fixed` (source state): a
    renamed report keeps loading into its table, with its history; its current name is
    in `reports.name`, its table in `reports.results_table`. A name another report has
    already taken gets the id's start appended."""
    taken = set(fixed.values())
    for report in reports:
        report_id = str(report["id"])
        if report_id in fixed:
            continue
        name = normalized_table(f"report_{report.get('name') or report_id}")
        if name in taken:
            name = normalized_table(f"{name}_{report_id[:8]}")
        taken.add(name)
        fixed[report_id] = name
    return {str(report["id"]): fixed[str(report["id"])] for report in reports}


def check_report_columns(value: object) -> dict[str, list[str]]:
    """`report_columns`: report id or name → a list of column names."""
    if not value:
        return {}
    ok = isinstance(value, dict) and all(
        isinstance(names, list) and all(isinstance(n, str) and n for n in names)
        for names in value.values()
    )
    if not ok:
        raise ConfigError(
            f"report_columns must map report ids or names to lists of column names, got {value!r}",
            source=SOURCE,
            hint=config_key_help(SOURCE, "report_columns"),
        )
    return {str(report): list(names) for report, names in value.items()}


def column_names(report: dict[str, Any], configured: dict[str, list[str]]) -> list[str]:
    """From the report's definition, else per-report config (by id or name), else identity."""
    for names in (
        report.get("columns"),
        configured.get(report["id"]),
        configured.get(str(report.get("name"))),
    ):
        if names:
            return [str(n) for n in names]
    return ["identity"]


def record_failures(failures: list[tuple[Window, BaseException]], windows: int, table: str) -> None:
    """One line per report, not per window: its earliest failed window (the one that holds
    the cursor), with how many of the run's windows failed."""
    window, error = min(failures, key=lambda failure: failure[0].start)
    what = (
        f"{len(failures)} of {windows} window(s) failed, the first "
        f"{window.start.date()}..{window.end.date()}"
    )
    record_part_failure(SOURCE, error, table, what=what)


def stamp(table: pa.Table, window: Window, offset: int) -> pa.Table:
    rows = table.num_rows
    ts = pa.timestamp("us", tz="UTC")
    start = pa.repeat(pa.scalar(window.start, type=ts), rows)  # not a list of datetimes:
    end = pa.repeat(pa.scalar(window.end, type=ts), rows)  # 1M of those took 3.5 s
    numbers = pa.array(range(offset, offset + rows), type=pa.int64())
    for name, values in ((WINDOW_KEY, start), (WINDOW_END, end), (ROW_NUMBER, numbers)):
        table = table.append_column(pa.field(name, values.type, nullable=False), values)
    return table
