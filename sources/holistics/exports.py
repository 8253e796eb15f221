"""Holistics widget exports: which widgets, each export's filters and window, submitting,
waiting, downloading and reading the CSV into Arrow tables (see the package docstring
for the two modes), and the history of each export job (`history.py`)."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
import pendulum
import pyarrow as pa
from dlt.common.normalizers.naming.snake_case import NamingConvention

from sources.common.arrow import conform, required
from sources.common.batch_jobs import BatchPoller
from sources.common.completeness import Tally, unreadable
from sources.common.csv_arrow import CsvFormatError, CsvLayout, inspect_csv, read_csv_tables
from sources.common.errors import (
    ConfigError,
    MalformedResponse,
    PipelineError,
    VendorError,
    config_key_help,
)
from sources.common.http import VendorHttp
from sources.common.jobs import fan_in
from sources.common.snapshots import EMPTY_MARK, emptied, snapshot_hints
from sources.common.stats import record_part_failure, stats_for
from sources.holistics import client, history
from sources.holistics.client import FAILURE, SOURCE, SUCCESS, HolisticsConfig, JobStatuses
from sources.holistics.history import JobRecord
from sources.holistics.objects import widgets_of

log = logging.getLogger(__name__)
_naming = NamingConvention()
WIDGET_KEY = "_widget_id"
DOWNLOAD = "GET /exports/download"

Export = tuple[Path, CsvLayout, Tally]  # the downloaded file, its layout, its count


@dataclass(frozen=True)
class WidgetPlan:
    widget_id: str
    conditions: list[dict[str, Any]]
    primary_key: list[str] | None = None  # snake_case; None = snapshot
    window_end: str | None = None  # the cursor after success (incremental, not backfill)

    @property
    def table(self) -> str:
        return f"widget_{self.widget_id}"


@dataclass(frozen=True)
class ExportSettings:
    widget_ids: list[str]
    dashboard_ids: list[str]
    common_filters: list[dict[str, Any]]
    options: dict[str, dict[str, Any]]
    first_day: pendulum.DateTime
    lookback_days: int
    backfill: tuple[pendulum.DateTime | None, pendulum.DateTime | None]
    concurrency: int


async def run_exports(
    config: HolisticsConfig, wanted: ExportSettings, cursors: dict[str, str]
) -> AsyncIterator[Any]:
    """Every export at once, polled together; each widget's tables and each job's history
    as they finish. A failed export fails its widget only; an incremental widget's cursor
    moves when its export loaded."""
    with tempfile.TemporaryDirectory(prefix="holistics-") as scratch:
        async with client.session(config) as session:
            ids = await export_targets(session, config, wanted.widget_ids, wanted.dashboard_ids)
            plans = [plan_widget(w, wanted, cursors) for w in ids]
            poller = BatchPoller(
                fetch=JobStatuses(session, config),
                finished=client.is_final,
                batch_size=client.MAX_JOB_IDS,
                interval=config.poll_interval,
                timeout=config.job_timeout,
            )
            async with poller:

                async def export(plan: WidgetPlan) -> AsyncIterator[JobRecord | Export]:
                    path = Path(scratch) / f"{plan.widget_id}.csv"
                    try:
                        async for item in export_widget(session, config, poller, plan, path):
                            yield item
                    except VendorError as exc:
                        raise unknown_widget(exc, plan, wanted.widget_ids) from None

                async for outcome in fan_in(plans, export, concurrency=wanted.concurrency):
                    plan = outcome.spec
                    if outcome.error is not None:
                        record_part_failure(SOURCE, outcome.error, plan.table)
                    elif isinstance(outcome.item, JobRecord):
                        for table in outcome.item.tables():
                            yield table
                    elif outcome.item is not None:
                        path, layout, tally = outcome.item
                        for table in widget_tables(path, layout, plan, tally):
                            yield table
                        path.unlink(missing_ok=True)
                        layout.discard()
                    elif plan.window_end is not None:
                        cursors[plan.widget_id] = plan.window_end


def plan_widget(widget_id: str, wanted: ExportSettings, cursors: dict[str, str]) -> WidgetPlan:
    """The filter conditions of one export and, for incremental widgets, its window."""
    own = wanted.options.get(widget_id, {})
    conditions = [*wanted.common_filters, *own.get("filters", [])]
    by_filter = {str(c["dynamic_filter_id"]): c for c in conditions}
    first_day, lookback_days, backfill = wanted.first_day, wanted.lookback_days, wanted.backfill
    if not own.get("date_filter_id"):
        return WidgetPlan(widget_id, list(by_filter.values()))
    today = pendulum.today("UTC")
    start, end = backfill
    window_end: str | None = None
    if start is None and end is None:
        cursor = cursors.get(widget_id)
        back = own["lookback_days"] if own.get("lookback_days") is not None else lookback_days
        start = pendulum.parse(cursor).subtract(days=back) if cursor else first_day
        last = today
        window_end = today.to_date_string()
    else:
        start = start or first_day
        last = end.subtract(days=1) if end is not None else today  # --end is exclusive
    date_filter = str(own["date_filter_id"])
    by_filter[date_filter] = {
        "dynamic_filter_id": own["date_filter_id"],
        "condition": {
            "operator": "between",
            "values": [start.to_date_string(), last.to_date_string()],
        },
    }
    return WidgetPlan(widget_id, list(by_filter.values()), own["primary_key"], window_end)


def unknown_widget(exc: VendorError, plan: WidgetPlan, configured: list[str]) -> PipelineError:
    """A widget of `widget_ids` that Holistics does not know is a configuration error
    (exit 2, naming the key); any other failure stays the vendor error it is."""
    if (
        plan.widget_id in configured
        and exc.cause.startswith("HTTP 404")
        and "submit_export" in (exc.endpoint or "")
    ):
        return ConfigError(
            f"widget_ids names widget {plan.widget_id}, which Holistics does not know "
            f"({exc.cause})",
            source=SOURCE,
            resource=plan.table,
            hint=config_key_help(SOURCE, "widget_ids"),
        )
    return exc


async def export_targets(
    session: VendorHttp, config: HolisticsConfig, widget_ids: list[str], dashboard_ids: list[str]
) -> list[str]:
    """`widget_ids`, then every exportable widget of the dashboards in `dashboard_ids`,
    each once. A dashboard widget whose `permissions.export_data` is false would fail
    with 403 on every run: it is skipped, and the run summary says so. A widget named
    in `widget_ids` is always submitted, so a missing permission fails loudly."""
    found = list(widget_ids)
    stats = stats_for(SOURCE)
    for dashboard_id in dashboard_ids:
        try:
            dashboard = await client.get_object(
                session, config, "/dashboards", "dashboard", dashboard_id
            )
            widgets = widgets_of(dashboard)
        except Exception as exc:
            record_part_failure(SOURCE, exc, f"dashboard {dashboard_id}")
            continue
        for widget in widgets:
            wid = str(widget["id"])
            if client.exportable(widget) or wid in found:
                found.append(wid)
            else:
                stats.skip(
                    f"widget_{wid} of dashboard {dashboard_id}: permissions.export_data is "
                    f"false for the key's owner (grant it in Holistics, or drop the dashboard "
                    f"from dashboard_ids)"
                )
    return list(dict.fromkeys(found))


async def export_widget(
    session: VendorHttp,
    config: HolisticsConfig,
    poller: BatchPoller,
    plan: WidgetPlan,
    path: Path,
) -> AsyncIterator[JobRecord | Export]:
    """Submit, wait (polled with every other job), read the job's history, download, and
    check the CSV: the job's record, then the export."""
    job_id = await client.submit_export(session, config, plan.widget_id, plan.conditions)
    what = f"export job {job_id} of widget {plan.widget_id}"
    job = await poller.wait(job_id, what=what)
    if isinstance(job, Exception):
        raise job
    record = await history.read(session, config, job)
    if record is not None:
        yield record
    state = client.job_state(job)
    if state == FAILURE:
        raise client.job_failed(plan.widget_id, job, record.logs if record else [])
    if state != SUCCESS:
        raise unreadable(
            f"{what} is in state {job.get('status')!r}, which this source does not know",
            # only its keys and state: a job may carry a pre-signed link, whose signature
            # is no registered secret
            {key: job[key] if key in ("id", "status") else "…" for key in job},
            source=SOURCE,
            endpoint="GET /jobs",
            hint="Holistics may have a new job state; report it",
        )
    await client.download_export(session, config, job_id, path)
    try:
        layout = await asyncio.to_thread(inspect_csv, path, reserved=(WIDGET_KEY, EMPTY_MARK))
    except CsvFormatError as exc:
        raise MalformedResponse(
            f"export of widget {plan.widget_id} is not valid CSV: {exc}",
            source=SOURCE,
            endpoint=DOWNLOAD,
        ) from None
    if not layout.names:  # not even a header: a cut or failed file, never "no rows"
        raise MalformedResponse(
            f"export of widget {plan.widget_id} is empty: no header line, no rows",
            source=SOURCE,
            endpoint=DOWNLOAD,
            hint="the previous snapshot stays; rerun, and report it if it persists",
        )
    if plan.primary_key:
        columns = {_naming.normalize_identifier(n) for n in layout.names}
        missing = [k for k in plan.primary_key if k not in columns]
        if missing:
            raise PipelineError(  # this widget's settings, not the run's: the others load
                f"widgets.{plan.widget_id}.primary_key names {', '.join(missing)}, "
                f"not among the export's columns {', '.join(sorted(columns))}",
                source=SOURCE,
                resource=plan.table,
                hint=config_key_help(SOURCE, "widgets"),
            )
    tally = Tally(f"export of widget {plan.widget_id}", source=SOURCE, endpoint=DOWNLOAD)
    declared = client.declared_rows(job)
    if declared is not None:
        tally.declared(declared)
    tally.received(layout.rows)
    if declared is not None and declared != layout.rows:
        tally.settle()  # the file is short (or long): fail before anything is loaded
    yield path, layout, tally


def widget_tables(path: Path, layout: CsvLayout, plan: WidgetPlan, tally: Tally) -> Iterator[Any]:
    """The export's blocks as Arrow tables, with the hints of the widget's mode; the
    tables' columns fitted to the destination's (a drifted type becomes a variant)."""
    if plan.primary_key:
        hints = dlt.mark.make_hints(
            table_name=plan.table,
            write_disposition={
                "disposition": "merge",
                "strategy": "delete-insert",
                "deduplicated": True,  # see the module docstring
            },
            primary_key=plan.primary_key,
        )
    else:
        hints = snapshot_hints(WIDGET_KEY, table=plan.table)
    widget_id = int(plan.widget_id) if plan.widget_id.isdigit() else plan.widget_id
    if layout.rows == 0:
        if not plan.primary_key:
            log.info("%s: %s: the export has no rows; the table is emptied", SOURCE, plan.table)
            yield emptied(WIDGET_KEY, widget_id, table=plan.table)
        return
    wanted = plan.primary_key or []
    keys = tuple(n for n in layout.names if _naming.normalize_identifier(n) in wanted)
    known = dlt.current.source_schema().tables.get(plan.table, {}).get("columns", {})
    for table in read_csv_tables(path, layout):
        marker = pa.repeat(pa.scalar(widget_id), table.num_rows)
        table = table.append_column(pa.field(WIDGET_KEY, marker.type, nullable=False), marker)
        tally.emitted(table.num_rows)
        table = required(conform(table, known), keys)
        yield dlt.mark.with_hints(table, hints, create_table_variant=True)
    tally.settle()
