"""Datawiz (retail BI): builder tables and report widgets, incremental by day.

Tables: one per entry of `tables` (its `name`), one row per row of the builder's answer
(tree answers flattened, with `parent_key` and `level`), and `report_<report>__<widget>`
per entry of `reports` (in dlt's snake_case, e.g. `report_shops_sales__table`): a table
widget's rows, or any other widget's values in one long form (payloads.py: charts,
trees, cards). Column types and descriptions come from the answer's `columns` metadata.

Incremental by day: a builder table groups by `day_month_year` first (the source adds
it unless the table sets `incremental = false`) and keeps, in resource state, `cursors.next_day`:
the first day not yet loaded. A run asks for the days from that cursor minus
`lookback_days` (late corrections are normal in retail data) up to yesterday in
`time_zone`, in chunks of `chunk_days` so answers stay bounded; the rows carry `date`
(from their key or day field) and are merged on (`date`, `key`) with `date` as merge key, so a
re-fetched day replaces all its rows. `--start/--end` backfill a day range without
moving the cursor back. A report widget with `interval = "day_month_year"` is fetched a
day per request and merged on `date` the same way; a week/month widget per whole calendar
period, merged on `_period_start`; any other widget is one snapshot of the run's days,
replaced: a SUM over any widget table counts each day once.

Each chunk is spooled to disk until all its pages are in: a chunk that fails loads
nothing, stops its table's cursor before it and is reported as a part failure while the
other tables and chunks load. Configuration and authentication errors stop the source.

Every chunk keeps a `Tally` (sources/common/completeness.py): the builder's `count`,
the root rows received, the rows read; a chunk whose rows cannot all be read (a day in a
form no reading fits, a missing key) fails with one line showing what came, loads
nothing and holds the cursor.

Assumptions where the doc is silent (see also client.py, frames.py and queries.py):
- days are calendar days in `time_zone` (UTC by default), the account's reporting
  zone; "yesterday" is the last complete day;
- a row's `key` carries `day_month_year=<day>` when the day is grouped, as the doc's
  key_start example (`shop=1&category=6779&product=`) suggests: an ISO date, or an id
  with the day in the row's day field, or no day in the key and the day in that field
  (frames.day_of_rows); a row with no day in key nor field is a total row, counted and
  not loaded, at most one per chunk;
- snapshot tables (`incremental = false`) are replaced on each run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import dlt
import pendulum
import pyarrow as pa
from dlt.extract.resource import DltResource

from sources.common.arrow import required
from sources.common.discovery import Discovery
from sources.common.errors import ConfigError, config_key_help
from sources.common.settings import require_non_negative, require_positive
from sources.common.snapshots import EMPTY_MARK, emptied, snapshot_hints
from sources.common.windows import Window
from sources.datawiz import catalog, client
from sources.datawiz.chunks import (
    DATE,
    SNAPSHOT_KEY,
    Framed,
    dated,
    load_windows,
    root_rows,
    snapshot_of,
    span_of,
)
from sources.datawiz.config import SOURCE, DatawizConfig
from sources.datawiz.days import DayPlan
from sources.datawiz.frames import Framer, with_column
from sources.datawiz.queries import ReportSpec, TableSpec, parse_reports, parse_tables

log = logging.getLogger(__name__)
NEXT_DAY = "next_day"  # the cursor: the first day not loaded yet
PERIODS = ("week", "month")  # report intervals fetched per whole calendar period
PERIOD_START, PERIOD_END = "_period_start", "_period_end"
WINDOW_FROM, WINDOW_TO = "_window_from", "_window_to"


@dlt.source(name=SOURCE, section=SOURCE, max_table_nesting=0, spec=DatawizConfig)
def datawiz_source(
    config: DatawizConfig = None,
    backfill_start: str | None = None,
    backfill_end: str | None = None,
) -> Any:
    """Datawiz builder tables and report widgets; `backfill_*` come from `run --start/--end`."""
    table_specs = parse_tables(config.tables)
    report_specs = parse_reports(config.reports)
    if not table_specs and not report_specs:
        raise ConfigError(
            "no builder tables or report widgets configured",
            source=SOURCE,
            hint=config_key_help(SOURCE, "tables") + " (or reports)",
        )
    taken = {s.name for s in table_specs} & {s.table for s in report_specs}
    if taken:
        raise ConfigError(f"tables and reports both name {sorted(taken)}", source=SOURCE)
    plan = DayPlan.from_settings(
        config.time_zone,
        config.start_date,
        int(require_non_negative(SOURCE, "lookback_days", config.lookback_days)),
        int(require_positive(SOURCE, "chunk_days", config.chunk_days)),
        backfill_start,
        backfill_end,
    )
    workers = int(require_positive(SOURCE, "concurrency", config.concurrency))
    resources = [builder_resource(spec, config, plan, workers) for spec in table_specs]
    resources += [report_resource(spec, config, plan, workers) for spec in report_specs]
    return resources


def check() -> str:
    """One token grant and one cheap builder call: yesterday's turnover, no grouping."""
    yesterday = pendulum.yesterday("UTC").date()
    rows = asyncio.run(client.probe(DatawizConfig.resolved(), yesterday))
    return f"token granted, builder answered ({rows} row(s) for {yesterday})"


def discover() -> Discovery:
    return catalog.discover(DatawizConfig.resolved())


def builder_resource(
    spec: TableSpec, config: DatawizConfig, plan: DayPlan, workers: int
) -> DltResource:
    if spec.incremental:
        # each day is replaced whole: the merge key alone (see kissmetrics' report_results
        # for why (date, key) is not declared as primary key as well)
        hints: dict[str, Any] = {"write_disposition": "merge", "merge_key": DATE}
    else:
        hints = snapshot_hints(SNAPSHOT_KEY)

    @dlt.resource(name=spec.name, **hints)
    async def builder_table() -> AsyncIterator[Any]:
        state = dlt.current.resource_state()
        cursors = state.setdefault("cursors", {})
        cursor = cursors.get(NEXT_DAY) if spec.incremental else None
        windows = plan.windows(cursor) if spec.incremental else [plan.snapshot()]
        added = (DATE,) if spec.incremental else (SNAPSHOT_KEY, EMPTY_MARK)
        framer = Framer(
            tree=spec.tree, name=spec.name, added=added, endpoint=client.BUILDER_ENDPOINT
        )
        own_range = not spec.incremental and spec.date_range is not None

        def request(http: Any, window: Window) -> AsyncIterator[client.TablePage]:
            body = spec.body(None, None) if own_range else spec.body(*span_of(window))
            return client.builder_pages(http, config, body, spec.name)

        def frame(page: client.TablePage, window: Window) -> Framed:
            span = None if own_range else span_of(window)
            table = framer.table(page.rows, page.columns, span)
            if not spec.incremental:
                return snapshot_of(table, spec.name), root_rows(table, spec.tree), None
            table, totals = dated(table, span, framer)
            return table, root_rows(table, spec.tree) + totals.num_rows, totals

        done: list[Window] = []
        empty = (
            None if spec.incremental else lambda: emptied(SNAPSHOT_KEY, spec.name, table=spec.name)
        )
        loading = load_windows(
            spec.name, config, windows, request, frame, framer, done, workers, empty
        )
        async for item in loading:
            yield item
        if spec.incremental:
            moved = plan.moved(cursor, done)
            if moved:
                cursors[NEXT_DAY] = moved

    return builder_table


def report_resource(
    spec: ReportSpec, config: DatawizConfig, plan: DayPlan, workers: int
) -> DltResource:
    """A widget an analyst can SUM over without counting a day twice: a daily widget is
    a row per entity and day, merged per day; a week/month widget is fetched per whole
    calendar period (the current one up to yesterday) and merged per `_period_start`, so
    a re-fetched period replaces itself; any other widget is one snapshot of the run's
    days, replaced whole on each run."""
    if spec.daily:
        added: tuple[str, ...] = (DATE,)
        hints: dict[str, Any] = {"write_disposition": "merge", "merge_key": DATE}
    elif spec.interval in PERIODS:
        added = (PERIOD_START, PERIOD_END)
        hints = {"write_disposition": "merge", "merge_key": PERIOD_START}
    else:
        added = (WINDOW_FROM, WINDOW_TO, SNAPSHOT_KEY, EMPTY_MARK)
        hints = snapshot_hints(SNAPSHOT_KEY)
    incremental = spec.daily or spec.interval in PERIODS
    endpoint = f"POST /api/report/reports/{spec.report}/widgets/{spec.widget}/data/"

    @dlt.resource(name=spec.table, **hints)
    async def report_widget() -> AsyncIterator[Any]:
        state = dlt.current.resource_state()
        cursors = state.setdefault("cursors", {})
        cursor = cursors.get(NEXT_DAY)
        if spec.daily:
            windows = plan.windows(cursor, days=1)
        elif incremental:
            windows = plan.periods(cursor, spec.interval)
        else:
            windows = [plan.snapshot()]
        framer = Framer(tree=False, name=spec.table, added=added, endpoint=endpoint)

        def request(http: Any, window: Window) -> AsyncIterator[client.TablePage]:
            body = spec.body(*span_of(window))
            return client.widget_pages(
                http, config, spec.report, spec.widget, body, spec.table, spec.kind
            )

        def frame(page: client.TablePage, window: Window) -> Framed:
            first, last = span_of(window)
            table = framer.table(page.rows, page.columns, (first, last))
            rows = table.num_rows
            stamps = added[:2] if incremental else (WINDOW_FROM, WINDOW_TO)
            for name, day in zip(stamps, (first, last), strict=False):  # daily: `date`
                table = with_column(table, name, pa.repeat(pa.scalar(day, pa.date32()), rows))
            if not incremental:
                table = snapshot_of(table, spec.table)
            return required(table, stamps), rows, None

        done: list[Window] = []
        empty = None if incremental else lambda: emptied(SNAPSHOT_KEY, spec.table, table=spec.table)
        loading = load_windows(
            spec.table, config, windows, request, frame, framer, done, workers, empty
        )
        async for item in loading:
            yield item
        moved = plan.moved(cursor, done) if incremental else None
        if moved:
            cursors[NEXT_DAY] = moved

    return report_widget
