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
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from typing import Any

import dlt
import pendulum
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.configuration.inject import with_config
from dlt.extract.resource import DltResource

from sources.common.arrow import Spool, required
from sources.common.completeness import Tally, unreadable
from sources.common.discovery import Discovery
from sources.common.errors import ConfigError, config_key_help
from sources.common.http import HttpPolicy
from sources.common.jobs import fan_in
from sources.common.oauth import PasswordGrant
from sources.common.settings import (
    require_http_policy,
    require_non_negative,
    require_positive,
    require_secret,
    require_url,
)
from sources.common.snapshots import EMPTY_MARK, emptied, snapshot_hints
from sources.common.stats import record_part_failure
from sources.common.windows import (
    DEFAULT_HISTORY_DAYS,
    Window,
    day_start,
    next_cursor,
    parse_datetime,
    timezone,
)
from sources.datawiz import catalog, client
from sources.datawiz.client import SOURCE, DatawizConfig
from sources.datawiz.frames import Framer, Span, Unreadable, day_of_rows, first_day_row, with_column
from sources.datawiz.queries import ReportSpec, TableSpec, parse_reports, parse_tables

log = logging.getLogger(__name__)
DATE = "date"
SNAPSHOT_KEY = "_snapshot_of"  # the table a snapshot row belongs to; delete-insert on it
NEXT_DAY = "next_day"  # the cursor: the first day not loaded yet
# a page as the loader takes it: (rows to load, root rows read, total rows dropped)
Framed = tuple[pa.Table, int, pa.Table | None]
PERIODS = ("week", "month")  # report intervals fetched per whole calendar period
PERIOD_START, PERIOD_END = "_period_start", "_period_end"
WINDOW_FROM, WINDOW_TO = "_window_from", "_window_to"


@dlt.source(name=SOURCE, max_table_nesting=0)
def datawiz_source(
    client_id: str = dlt.secrets.value,
    client_secret: str = dlt.secrets.value,
    username: str = dlt.secrets.value,
    password: str = dlt.secrets.value,
    account_id: str = dlt.secrets.value,
    token_url: str = "https://bes.datawiz.io/o/token/",
    api_url: str = "https://api-new.datawiz.io",
    bi_url: str = "https://bi-new.datawiz.io",
    tables: list[dict[str, Any]] | None = None,
    reports: list[dict[str, Any]] | None = None,
    start_date: str | None = None,
    lookback_days: int = 3,
    chunk_days: int = 7,
    time_zone: str = "UTC",
    page_size: int = 1000,
    concurrency: int = 4,
    page_concurrency: int = 4,
    http: HttpPolicy = None,
    backfill_start: str | None = None,
    backfill_end: str | None = None,
) -> Any:
    """Datawiz builder tables and report widgets; `backfill_*` come from `run --start/--end`."""
    config = make_config(
        client_id,
        client_secret,
        username,
        password,
        account_id,
        token_url,
        api_url,
        bi_url,
        http,
        page_size=page_size,
        page_concurrency=page_concurrency,
    )
    table_specs = parse_tables(tables)
    report_specs = parse_reports(reports)
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
        time_zone,
        start_date,
        int(require_non_negative(SOURCE, "lookback_days", lookback_days)),
        int(require_positive(SOURCE, "chunk_days", chunk_days)),
        backfill_start,
        backfill_end,
    )
    workers = int(require_positive(SOURCE, "concurrency", concurrency))
    resources = [builder_resource(spec, config, plan, workers) for spec in table_specs]
    resources += [report_resource(spec, config, plan, workers) for spec in report_specs]
    return resources


@with_config(sections=("sources", SOURCE))
def connection(
    client_id: str = dlt.secrets.value,
    client_secret: str = dlt.secrets.value,
    username: str = dlt.secrets.value,
    password: str = dlt.secrets.value,
    account_id: str = dlt.secrets.value,
    token_url: str = "https://bes.datawiz.io/o/token/",
    api_url: str = "https://api-new.datawiz.io",
    bi_url: str = "https://bi-new.datawiz.io",
    http: HttpPolicy = None,
) -> DatawizConfig:
    """The settings a call outside a run needs (`check`, `discover`), resolved by dlt
    from the same places as the source's."""
    return make_config(
        client_id, client_secret, username, password, account_id, token_url, api_url, bi_url, http
    )


def check() -> str:
    """One token grant and one cheap builder call: yesterday's turnover, no grouping."""
    yesterday = pendulum.yesterday("UTC").date()
    rows = asyncio.run(client.probe(connection(), yesterday))
    return f"token granted, builder answered ({rows} row(s) for {yesterday})"


def discover() -> Discovery:
    return catalog.discover(connection())


def make_config(
    client_id: str,
    client_secret: str,
    username: str,
    password: str,
    account_id: object,
    token_url: str,
    api_url: str,
    bi_url: str,
    http: HttpPolicy | None,
    *,
    page_size: object = 1000,
    page_concurrency: object = 4,
) -> DatawizConfig:
    secrets = {
        "client_id": client_id,
        "client_secret": client_secret,
        "username": username,
        "password": password,
    }
    values = {key: require_secret(SOURCE, key, value) for key, value in secrets.items()}
    account = require_secret(SOURCE, "account_id", account_id)
    if not account.isdigit():
        raise ConfigError(
            "account_id must be the numeric client-id your administrator gave you",
            source=SOURCE,
            hint=config_key_help(SOURCE, "account_id", secret=True),
        )
    token = require_url(SOURCE, "token_url", token_url)
    if str(token_url).strip().endswith("/"):
        token += "/"  # the documented endpoint is /o/token/ (Django redirects without it)
    grant = PasswordGrant(
        token,
        client_id=values["client_id"],
        client_secret=values["client_secret"],
        username=values["username"],
        password=values["password"],
        source=SOURCE,
    )
    return DatawizConfig(
        grant=grant,
        account_id=account,
        token_url=grant.token_url,
        api_url=require_url(SOURCE, "api_url", api_url),
        bi_url=require_url(SOURCE, "bi_url", bi_url),
        page_size=int(require_positive(SOURCE, "page_size", page_size)),
        page_concurrency=int(require_positive(SOURCE, "page_concurrency", page_concurrency)),
        http=require_http_policy(SOURCE, http),
    )


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
        loading = _load_windows(
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
        loading = _load_windows(
            spec.table, config, windows, request, frame, framer, done, workers, empty
        )
        async for item in loading:
            yield item
        moved = plan.moved(cursor, done) if incremental else None
        if moved:
            cursors[NEXT_DAY] = moved

    return report_widget


def snapshot_of(table: pa.Table, name: str) -> pa.Table:
    """Stamp a snapshot's rows with the table they replace (`sources.common.snapshots`):
    a failed run keeps the last good snapshot instead of emptying the table."""
    stamped = with_column(table, SNAPSHOT_KEY, pa.repeat(pa.scalar(name), table.num_rows))
    return required(stamped, (SNAPSHOT_KEY,))


def span_of(window: Window) -> Span:
    """The first and last day (inclusive) a window asks for."""
    return window.start.date(), window.end.subtract(days=1).date()


def root_rows(table: pa.Table, tree: bool) -> int:
    """Rows of the answer's top level: all of them, or a flattened tree's roots."""
    return table.column("parent_key").null_count if tree else table.num_rows


def dated(table: pa.Table, span: Span | None, framer: Framer) -> pa.Table:
    """(the rows with their day as `date`, the total rows dropped); total rows have no
    day in their key nor in a field; rows whose day cannot be read fail the chunk with a
    sample of one."""
    try:
        days, totals, form = day_of_rows(table, span)
    except Unreadable as exc:
        raise unreadable(
            f"cannot read the day of the rows ({exc})",
            first_day_row(table),
            source=SOURCE,
            endpoint=client.BUILDER_ENDPOINT,
        ) from None
    framer.note("the day of a row", form)
    dropped = table.filter(totals)
    if totals.true_count:
        framer.note("rows with no day in their key or fields", "total rows, not loaded")
        keep = pc.invert(totals)
        table, days = table.filter(keep), days.filter(keep)
    return required(with_column(table, DATE, days), (DATE, "key")), dropped


async def _load_windows(
    name: str,
    config: DatawizConfig,
    windows: list[Window],
    request: Callable[[Any, Window], AsyncIterator[client.TablePage]],
    frame: Callable[[client.TablePage, Window], Framed],
    framer: Framer,
    done: list[Window],
    workers: int,
    empty: Callable[[], Any] | None = None,
) -> AsyncIterator[Any]:
    """Fetch the windows concurrently, spool each until complete, then hand it to dlt;
    a failed window is recorded and skipped. The first table carries the column hints.
    A snapshot window that loaded no rows yields `empty()`, which empties its table.
    Each window keeps a `Tally`: `count` announced, root rows received, root rows read
    plus total rows recognised; a window whose answer has more than one total row (rows
    with no day anywhere: a key form not understood) fails."""
    if not windows:
        return
    spools: dict[Any, Spool] = {}
    hinted = False
    async with client.session(config) as http:

        async def fetch(window: Window) -> AsyncIterator[pa.Table]:
            tally = Tally("the chunk", source=SOURCE)
            totals = 0
            async for page in request(http, window):
                if page.count is not None:
                    tally.declared(page.count)
                tally.received(len(page.rows))
                if page.rows:
                    table, roots, dropped = frame(page, window)
                    totals += dropped.num_rows if dropped is not None else 0
                    if totals > 1:
                        raise unreadable(
                            f"{totals} rows with no day in their key or day fields "
                            "(a total row comes once per answer)",
                            dropped.slice(0, 1).to_pylist()[0],
                            source=SOURCE,
                            endpoint=client.BUILDER_ENDPOINT,
                        )
                    tally.emitted(roots)
                    yield table
            tally.settle()

        try:
            async for outcome in fan_in(windows, fetch, concurrency=workers):
                window = outcome.spec
                if outcome.item is not None:
                    spools.setdefault(window.start, Spool()).write(outcome.item)
                    continue
                spool = spools.pop(window.start, None) or Spool()
                with spool:
                    if outcome.error is not None:
                        record_part_failure(SOURCE, outcome.error, name, what=days_of(window))
                        continue
                    done.append(window)
                    if empty is not None and spool.rows == 0:
                        yield empty()  # a snapshot the vendor answered with no rows
                    for table in spool.tables():
                        if not hinted:
                            hinted = True
                            hints = dlt.mark.make_hints(columns=framer.hints())
                            yield dlt.mark.with_hints(table, hints)
                        else:
                            yield table
        finally:
            for spool in spools.values():
                spool.close()


def days_of(window: Window) -> str:
    """The days a chunk covers, as a failure line names them."""
    first, last = span_of(window)
    return f"days {first}..{last}"
