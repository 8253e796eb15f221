"""Holistics: BI metadata, and dashboard-widget data through CSV export jobs.

Tables (all merged, so re-runs update rows in place):
- `dashboards` (on `id`; `dashboards__dynamic_filters` child table, the filters'
  `definition` and `mappings` kept as JSON), `dashboard_widgets` (on `id`, one row per
  widget of every dashboard, with `dashboard_id`), `data_schedules`, `data_alerts`,
  `users`, `groups` (on `id`). Nested lists become child tables one level deep; deeper
  structures (destinations, filter definitions, viz conditions) stay JSON.
- `widget_<id>` per exported widget: the CSV's header names the (snake_cased) columns,
  its values are typed from the whole file (sources.common.csv_arrow), `_widget_id`
  marks the widget. A header that repeats a name, or holds `_widget_id` itself, keeps
  that column under `<name>__vendor`; a column whose type drifts from the loaded one
  goes to a variant column (`<name>__v_<type>`).

Exports: every id of `widget_ids`, plus every widget of the dashboards in
`dashboard_ids`, is submitted at once (`output: csv`, `export_filters` and the
widget's own filters as `dashboard_filter_conditions`); all jobs are then polled
together through List Jobs (100 ids a request), so N exports take about as long as the
slowest. A job that ends `failure`/`cancelled` fails its widget only, with the job's
log lines in the message; a job in a state this source does not know fails its widget
at once, naming the state; the other widgets load. Every export's rows are counted from
the CSV to the tables handed to dlt, and against the job's own row count where it gives
one (sources.common.completeness.Tally): a short export fails, it never loads in part.

Two modes per widget:
- snapshot (default): each run replaces the table's rows in one transaction (dlt
  merge, delete-insert on `_widget_id`); a failed export loads nothing, so the last
  good snapshot stays. An export with no rows at all empties the table: one row with
  only `_widget_id` and `_empty_snapshot` = true (dlt's `hard_delete` hint) deletes
  the widget's rows and is itself not stored. (An empty Arrow table deletes nothing,
  and `replace` would also empty the tables of failed exports, which yield nothing.)
- incremental: `widgets.<id>` names `date_filter_id` (a dashboard date filter) and
  `primary_key` (CSV columns). The filter is set to `between [cursor - lookback_days,
  today]` (ISO dates, UTC), rows are merged on the key, and the cursor (resource state
  `cursors`) moves to today when the export succeeds. `run --start/--end` fetches that
  window instead and leaves the cursor alone. An export's rows are loaded as they come,
  not deduplicated on the key: dlt's deduplication would keep one arbitrary row of a
  repeated key and drop the others without a word (and sort every load to do it).

Assumptions about the API are in `client.py`'s docstring."""

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
from dlt.common.configuration.inject import with_config
from dlt.common.normalizers.naming.snake_case import NamingConvention

from sources.common.arrow import conform, required
from sources.common.batch_jobs import BatchPoller
from sources.common.completeness import Tally, unreadable
from sources.common.csv_arrow import CsvFormatError, CsvLayout, inspect_csv, read_csv_tables
from sources.common.discovery import Discovery
from sources.common.errors import (
    ConfigError,
    MalformedResponse,
    PipelineError,
    VendorError,
    config_key_help,
)
from sources.common.http import HttpPolicy, VendorHttp
from sources.common.jobs import fan_in
from sources.common.names import with_fields
from sources.common.redaction import register_secret
from sources.common.settings import (
    optional_list,
    require_http_policy,
    require_non_negative,
    require_positive,
    require_secret,
    require_url,
)
from sources.common.snapshots import EMPTY_MARK, emptied, snapshot_hints
from sources.common.stats import record_part_failure, stats_for
from sources.common.windows import DEFAULT_HISTORY_DAYS, parse_datetime
from sources.holistics import catalog, client
from sources.holistics.client import (
    FAILURE,
    MAX_PAGE,
    REGIONS,
    SOURCE,
    SUCCESS,
    HolisticsConfig,
    JobStatuses,
)

log = logging.getLogger(__name__)
_naming = NamingConvention()
WIDGET_KEY = "_widget_id"
DOWNLOAD = "GET /exports/download"
DETAIL_CONCURRENCY = 8

# name, path, response key, JSON columns (deep definitions kept whole)
LISTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("data_schedules", "/data_schedules", "data_schedules", ("dest",)),
    ("data_alerts", "/data_alerts", "data_alerts", ("dest", "viz_conditions")),
    ("users", "/users", "users", ()),
    ("groups", "/groups", "groups", ()),
)


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


@dlt.source(name=SOURCE, max_table_nesting=1)
def holistics_source(
    api_key: str = dlt.secrets.value,
    base_url: str | None = None,
    region: str | None = None,
    dashboard_ids: list[str] | None = None,
    widget_ids: list[str] | None = None,
    export_filters: list[dict[str, Any]] | None = None,
    widgets: dict[str, dict[str, Any]] | None = None,
    start_date: str | None = None,
    lookback_days: int = 1,
    page_size: int = MAX_PAGE,
    concurrency: int = 32,
    job_timeout: float = 1800.0,
    poll_interval: float = 1.0,
    http: HttpPolicy = None,
    backfill_start: str | None = None,
    backfill_end: str | None = None,
) -> Any:
    """Holistics metadata and widget exports; `backfill_*` come from `run --start/--end`."""
    config = make_config(
        api_key,
        base_url,
        region,
        http,
        page_size=page_size,
        job_timeout=job_timeout,
        poll_interval=poll_interval,
    )
    dashboards_wanted = optional_list(SOURCE, "dashboard_ids", dashboard_ids)
    widgets_wanted = optional_list(SOURCE, "widget_ids", widget_ids)
    common_filters = check_conditions("export_filters", export_filters)
    options = widget_options(widgets)
    lookback = int(require_non_negative(SOURCE, "lookback_days", lookback_days))
    workers = int(require_positive(SOURCE, "concurrency", concurrency))
    today = pendulum.today("UTC")
    first_day = (
        parse_datetime(SOURCE, "start_date", start_date, pendulum.UTC)
        if start_date
        else today.subtract(days=DEFAULT_HISTORY_DAYS)
    )
    backfill = (
        parse_datetime(SOURCE, "--start", backfill_start, pendulum.UTC) if backfill_start else None,
        parse_datetime(SOURCE, "--end", backfill_end, pendulum.UTC) if backfill_end else None,
    )

    @dlt.resource(name="dashboard_details", selected=False)
    async def dashboard_details() -> AsyncIterator[list[dict[str, Any]]]:
        async with client.session(config) as session:
            gate = asyncio.Semaphore(DETAIL_CONCURRENCY)

            async def detail(listed: dict[str, Any]) -> dict[str, Any]:
                async with gate:
                    return {**listed, **await client.get_dashboard(session, config, listed["id"])}

            async for page in client.pages(session, config, "/dashboards", "dashboards"):
                yield list(await asyncio.gather(*(detail(d) for d in page)))

    @dlt.transformer(
        data_from=dashboard_details,
        name="dashboards",
        write_disposition="merge",
        primary_key="id",
    )
    def dashboards(details: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        yield [with_fields({k: v for k, v in d.items() if k != "widgets"}, {}) for d in details]

    @dlt.transformer(
        data_from=dashboard_details,
        name="dashboard_widgets",
        write_disposition="merge",
        primary_key="id",
    )
    def dashboard_widgets(details: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
        yield [
            with_fields(widget, {"dashboard_id": d["id"]})
            for d in details
            for widget in widgets_of(d)
        ]

    def listing(name: str, path: str, key: str, json_columns: tuple[str, ...]) -> Any:
        @dlt.resource(
            name=name,
            write_disposition="merge",
            primary_key="id",
            columns={c: {"data_type": "json"} for c in json_columns},
        )
        async def resource() -> AsyncIterator[list[dict[str, Any]]]:
            async with client.session(config) as session:
                async for page in client.pages(session, config, path, key):
                    # keys that snake-case alike (`fooBar`, `foo_bar`) keep both values
                    yield [with_fields(item, {}) for item in page]

        return resource

    @dlt.resource(name="widget_exports", write_disposition="merge")
    async def widget_exports() -> AsyncIterator[Any]:
        state = dlt.current.resource_state()
        cursors: dict[str, str] = state.setdefault("cursors", {})
        with tempfile.TemporaryDirectory(prefix="holistics-") as scratch:
            async with client.session(config) as session:
                ids = await export_targets(session, config, widgets_wanted, dashboards_wanted)
                plans = [
                    plan_widget(w, common_filters, options, cursors, first_day, lookback, backfill)
                    for w in ids
                ]
                poller = BatchPoller(
                    fetch=JobStatuses(session, config),
                    finished=client.is_final,
                    batch_size=client.MAX_JOB_IDS,
                    interval=config.poll_interval,
                    timeout=config.job_timeout,
                )
                async with poller:

                    async def export(plan: WidgetPlan) -> AsyncIterator[Export]:
                        path = Path(scratch) / f"{plan.widget_id}.csv"
                        try:
                            yield await export_widget(session, config, poller, plan, path)
                        except VendorError as exc:
                            raise unknown_widget(exc, plan, widgets_wanted) from None

                    async for outcome in fan_in(plans, export, concurrency=workers):
                        plan = outcome.spec
                        if outcome.error is not None:
                            record_part_failure(SOURCE, outcome.error, plan.table)
                        elif outcome.item is not None:
                            path, layout, tally = outcome.item
                            for table in widget_tables(path, layout, plan, tally):
                                yield table
                            path.unlink(missing_ok=True)
                        elif plan.window_end is not None:
                            cursors[plan.widget_id] = plan.window_end

    return (
        dashboard_details,
        dashboards,
        dashboard_widgets,
        *(listing(*spec) for spec in LISTS),
        widget_exports,
    )


@with_config(sections=("sources", SOURCE))
def connection(
    api_key: str = dlt.secrets.value,
    base_url: str | None = None,
    region: str | None = None,
    http: HttpPolicy = None,
) -> HolisticsConfig:
    """The settings a call outside a run needs (`check`, `discover`), resolved by dlt
    from the same places as the source's."""
    return make_config(api_key, base_url, region, http)


def check() -> str:
    """One cheap authenticated call: who owns the key."""
    config = connection()

    async def call() -> str:
        async with client.session(config) as session:
            user = await client.current_user(session, config)
        return f"key accepted for {user.get('email') or 'user ' + str(user.get('id', '?'))}"

    return asyncio.run(call())


def discover() -> Discovery:
    return asyncio.run(catalog.discover(connection()))


def make_config(
    api_key: str,
    base_url: str | None,
    region: str | None,
    http: HttpPolicy | None,
    *,
    page_size: object = MAX_PAGE,
    job_timeout: object = 1800.0,
    poll_interval: object = 1.0,
) -> HolisticsConfig:
    register_secret(api_key)
    size = int(require_positive(SOURCE, "page_size", page_size))
    if size > MAX_PAGE:
        raise ConfigError(
            f"page_size = {size} is above the API's limit of {MAX_PAGE}",
            source=SOURCE,
            hint=config_key_help(SOURCE, "page_size"),
        )
    return HolisticsConfig(
        api_key=require_secret(SOURCE, "api_key", api_key),
        base_url=require_url(SOURCE, "base_url", resolve_base_url(base_url, region)),
        page_size=size,
        job_timeout=float(require_positive(SOURCE, "job_timeout", job_timeout, float)),
        poll_interval=float(require_positive(SOURCE, "poll_interval", poll_interval, float)),
        http=require_http_policy(SOURCE, http),
    )


def resolve_base_url(base_url: str | None, region: str | None) -> str:
    """`base_url` when set, else the documented host of `region` (apac when unset)."""
    key = (region or "").strip().lower()
    if key and key not in REGIONS:
        raise ConfigError(
            f"region = {region!r} is not one of {', '.join(REGIONS)}",
            source=SOURCE,
            hint=config_key_help(SOURCE, "region"),
        )
    if base_url:
        if key and str(base_url).rstrip("/") != REGIONS[key]:
            log.info("%s: base_url is set; it wins over region %s", SOURCE, key)
        return str(base_url)
    return REGIONS[key or "apac"]


def check_conditions(key: str, value: object) -> list[dict[str, Any]]:
    """`dashboard_filter_conditions` items: {dynamic_filter_id, condition: {operator, values}}."""
    if value is None:
        return []
    items = value if isinstance(value, list) else None
    ok = items is not None and all(
        isinstance(c, dict)
        and c.get("dynamic_filter_id") is not None
        and isinstance(c.get("condition"), dict)
        and c["condition"].get("operator")
        for c in items
    )
    if not ok:
        raise ConfigError(
            f"{key} must be a list of {{dynamic_filter_id, condition: {{operator, values}}}}",
            source=SOURCE,
            hint=config_key_help(SOURCE, key),
        )
    return [dict(c) for c in items or []]


def widget_options(value: object) -> dict[str, dict[str, Any]]:
    """Per-widget settings `[sources.holistics.widgets.<id>]`, validated."""
    if not value:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            "widgets must be a table of widget id → settings",
            source=SOURCE,
            hint=config_key_help(SOURCE, "widgets"),
        )
    options: dict[str, dict[str, Any]] = {}
    for widget_id, settings in value.items():
        key = f"widgets.{widget_id}"
        if not isinstance(settings, dict):
            raise ConfigError(
                f"{key} must be a table of settings, got {settings!r}",
                source=SOURCE,
                hint=config_key_help(SOURCE, "widgets"),
            )
        filters = check_conditions(f"{key}.filters", settings.get("filters"))
        date_filter = settings.get("date_filter_id")
        keys = settings.get("primary_key")
        if isinstance(keys, str):
            keys = [keys]
        if (date_filter is None) != (not keys):
            raise ConfigError(
                f"{key} needs both date_filter_id and primary_key for incremental exports",
                source=SOURCE,
                hint=config_key_help(SOURCE, "widgets"),
            )
        lookback = settings.get("lookback_days")
        options[str(widget_id)] = {
            "filters": filters,
            "date_filter_id": date_filter,
            "primary_key": [_naming.normalize_identifier(str(k)) for k in keys or []],
            "lookback_days": None
            if lookback is None
            else int(require_non_negative(SOURCE, f"{key}.lookback_days", lookback)),
        }
    return options


def plan_widget(
    widget_id: str,
    common: list[dict[str, Any]],
    options: dict[str, dict[str, Any]],
    cursors: dict[str, str],
    first_day: pendulum.DateTime,
    lookback_days: int,
    backfill: tuple[pendulum.DateTime | None, pendulum.DateTime | None],
) -> WidgetPlan:
    """The filter conditions of one export and, for incremental widgets, its window."""
    own = options.get(widget_id, {})
    by_filter = {str(c["dynamic_filter_id"]): c for c in [*common, *own.get("filters", [])]}
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


def widgets_of(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """A dashboard's widgets; one that is not an object with an id cannot be loaded."""
    widgets = dashboard.get("widgets") or []
    if isinstance(widgets, list) and all(isinstance(w, dict) and "id" in w for w in widgets):
        return widgets
    raise unreadable(
        f"dashboard {dashboard.get('id')}: expected a 'widgets' list of objects with ids",
        widgets,
        source=SOURCE,
        endpoint="GET /dashboards/{id}",
    )


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
            dashboard = await client.get_dashboard(session, config, dashboard_id)
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
) -> Export:
    """Submit, wait (polled with every other job), download, and check the CSV."""
    job_id = await client.submit_export(session, config, plan.widget_id, plan.conditions)
    what = f"export job {job_id} of widget {plan.widget_id}"
    job = await poller.wait(job_id, what=what)
    if isinstance(job, Exception):
        raise job
    state = client.job_state(job)
    if state == FAILURE:
        raise await client.job_failed(session, config, plan.widget_id, job)
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
    return path, layout, tally


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
