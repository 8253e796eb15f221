"""Quantive Results: KPIs, their daily snapshots, projections, statistics, insight usages.

Which KPIs: all the token can read, `kpi_ids`, or one filter (`group_ids`, `ungrouped`,
`mykpis`): `selection.py`. Tables (dataset `quantive`, keyed on natural keys):
- `kpis` (`id`), replaced whole by every run's list (a KPI the vendor deleted goes; a
  list that fails loads nothing): the KPI's scalar fields as columns (`formatting` flattened to
  `formatting__*`; `groups`, `owner_ids`, `current_user_allowed_actions`, `insight_link`
  as JSON). The expanded links become four child tables, each row carrying `kpi_id` so
  an analyst joins without dlt's internal ids: `kpis__goals`, `kpis__metrics`,
  `kpis__sessions`, `kpis__linked_kpis`; anything nested deeper stays JSON in those
  rows. Other expanded links stay as they came in the JSON column `links__expanded`; a
  vendor field named like one of the four (`metrics`) goes to `metrics__vendor`.
- `kpi_snapshots` (`kpi_id`, `group`): one row per KPI and snapshot group, with
  `snapshot_date` (the group's first day), `value`, `group_by`, `time_zone`, and any
  other field the vendor sends, on the record or on the item that groups a KPI's
  records (its own `kpiId`/`timeZone` as `kpi_id__vendor`, `time_zone__vendor`; a value
  that is not a number in `value__v_text`). Arrow.
- `kpi_projections` (`kpi_id`, `id`), from the KPI body, else per KPI; each KPI's set
  replaced whole (`projections.py`).
- `kpi_statistics` (`kpi_id`, `period_type`, `read_on`): one row per KPI, period type
  and day it was read, so history builds up run by run; a rerun the same day replaces.
- `insight_usages` (`insight_id`) and `insight_usages__kpis`, for `insight_ids`.

Incremental: `kpi_snapshots` (requests planned in `snapshot_reads.py`: batches of ids,
or account-wide reads) keeps a cursor per KPI in resource state (`kpi_cursors`:
KPI id → the first day not yet final, i.e. the day of the last run that loaded every
batch of that KPI, whose snapshot may still change). KPIs that share a cursor go
together in batches asked from that cursor minus `lookback_days`, moved back to the
first day of its group, to today in `time_zone`; a KPI without one (the first run, or a
KPI added since) is asked from `start_date`, so it gets its whole history. Rows
re-fetched replace the loaded ones (merge on (`kpi_id`, `group`)), so a day fetched
twice is never doubled. A KPI's cursor moves only when every batch it was in loaded: a
failed batch is recorded (exit 1, the rest loads) and only its KPIs are fetched again
from where they were. Not `dlt.sources.incremental`: its boundary de-duplication would
drop today's revised value on a same-day rerun with `lookback_days = 0`, it has one
position for all KPIs, and putting it back after a failure races dlt's pipe. Resource
state `cursors.snapshot_date` shows the oldest KPI cursor for the run summary.
`--start/--end` load their window for every KPI without reading or moving a cursor.

Where the vendor doc is silent or contradicts itself the source accepts every plausible
form and logs (INFO, once per run) the one the vendor speaks; `sandbox/quantive.py`
speaks each as a dialect and docs/vendor-assumptions.md lists them with the doc lines:
- Lists (`GET /v2/kpis`, projections): paging parameters are not documented, so both
  `skip`/`take` and `offset`/`limit` are sent. The total is `totalCount`, else a `count`
  larger than the page; with a total the rest is fetched concurrently and counted
  against it, without one page after page until an empty page. A page that repeats
  another's ids (a server ignoring `skip`) fails the list: nothing is de-duplicated.
- `GET /v1/kpi-snapshots` and `GET /v2/kpis/snapshots` have no documented body (v2:
  `{}`), and are read alike: an object keyed by KPI id,
  `{items: [{kpiId, snapshots|groups}]}`, `{items: [flat records], totalCount}` (paged
  to its total) and a bare array are all read (`sources/quantive/snapshots.py`). A
  record names its group by `group` (`2022-W36`, `2022-09`, `2022-Q3`, `2022`, or a
  day inside the group) or by `date` (a day or a timestamp, read in `time_zone`).
  `to` ("snapshots that end on this date") is asked one day late and the extra day
  trimmed, so an exclusive `to` loses nothing. Every record becomes a row (`Tally`); a
  body or record in no known form fails its batch with one line showing what came
  (one line however many batches fail alike), and the cursor holds.
- `kpi_ids` given: each KPI is read with `GET /v1/kpis/{kpiId}` (documented); a 404 is a
  configuration error naming the id.
- `ids` go in batches of `snapshot_batch_size` (default 50: ~1,250 characters of
  24-character ids, well under common 2-8 KB URL limits), and long date ranges in
  windows of `snapshot_window_days` made of whole groups.
- `timeZone` takes the doc's offset form (`UTC`, `UTC+3`, `UTC-2`); an IANA name is
  refused at configuration time rather than guessed.
- `GET /v1/insights/{id}/usages/kpis` has no documented body: a list (or `{items}`) of
  KPI objects (`id`), usage records (`kpiId`) or bare ids. The doc lists no insights,
  so `insight_ids` names them (`discover` offers those the KPIs link to).
- Vendor fields named like a column this source adds (`kpiId` next to our `kpi_id`)
  keep their data under `<name>__vendor`, in every table.
- Error bodies are JSON with a `message` (or `error`) when the service gives one; the
  line names the documented meaning of the status (402 → payment required, with what
  to do). 401/403 are authentication errors (exit 3): a KPI the token may not read
  stops the run, because a silent gap in a permissions problem is worse than a loud stop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import dlt
import pendulum
import pyarrow as pa

from sources.common.discovery import Discovery
from sources.common.errors import (
    ConfigError,
    PipelineError,
    config_key_help,
)
from sources.common.jobs import Bound, fan_in
from sources.common.names import with_fields
from sources.common.settings import (
    optional_list,
    require_non_negative,
    require_positive,
)
from sources.common.stats import record_part_failure
from sources.common.windows import DEFAULT_HISTORY_DAYS, parse_datetime
from sources.quantive import catalog, client, periods, projections, selection, snapshot_reads
from sources.quantive.client import SOURCE, payment_required
from sources.quantive.config import QuantiveConfig
from sources.quantive.kpis import KPI_JSON, kpis_by_id, shape_kpi
from sources.quantive.snapshots import CURSOR

log = logging.getLogger(__name__)

PERIOD_TYPES = ("week", "month", "three-months", "year", "all-time")


@dlt.source(name=SOURCE, section=SOURCE, max_table_nesting=1, spec=QuantiveConfig)
def quantive_source(
    config: QuantiveConfig = None,
    backfill_start: str | None = None,
    backfill_end: str | None = None,
) -> Any:
    """Quantive Results KPIs and what hangs off them; `backfill_*` come from `run --start/--end`."""
    tz_name, tz = periods.parse_time_zone(config.time_zone)
    grouping = periods.check_group_by(config.group_by)
    lookback = int(require_non_negative(SOURCE, "lookback_days", config.lookback_days))
    batch_size = int(require_positive(SOURCE, "snapshot_batch_size", config.snapshot_batch_size))
    window_days = int(require_positive(SOURCE, "snapshot_window_days", config.snapshot_window_days))
    chosen = selection.selection(
        config.kpi_ids, config.group_ids, config.ungrouped, config.mykpis, config.v2_snapshots
    )
    insights = optional_list(SOURCE, "insight_ids", config.insight_ids)
    period_types = _period_types(config.statistics_periods)
    bound = Bound(config.concurrency)  # `concurrency` bounds every resource's requests together
    today = pendulum.now(tz).date()
    kpis_endpoint = client.endpoint_of(config, "/v1/kpis/{kpiId}" if chosen.kpi_ids else "/v2/kpis")
    first_day = periods.group_start(_first_day(config.start_date, tz, today), grouping)
    backfill = _backfill(backfill_start, backfill_end, first_day, tz, today, grouping)
    carried: dict[str, Any] = {}  # KPI id → the projections its body carried

    @dlt.resource(
        name="kpis",
        write_disposition="replace",  # a KPI the vendor deleted goes (a failed list raises)
        primary_key="id",
        columns={name: {"data_type": "json"} for name in KPI_JSON},
    )
    async def kpis() -> AsyncIterator[list[dict[str, Any]]]:
        try:
            async with client.session(config) as http_session:
                if chosen.kpi_ids:
                    listed = await kpis_by_id(http_session, config, chosen.kpi_ids)
                else:
                    listed = [
                        item
                        async for items in client.paged(http_session, config, "/v2/kpis")
                        for item in items
                        if chosen.keeps(item, kpis_endpoint)
                    ]
                carried.update(projections.carried(listed))
                yield [shape_kpi(kpi, kpis_endpoint) for kpi in listed]
        except PipelineError as exc:  # everything else hangs off this list: stop here
            raise exc.in_context(source=SOURCE, resource="kpis") from None

    @dlt.transformer(
        data_from=kpis,
        name="kpi_snapshots",
        # one row per KPI and group: windows are whole groups, batches distinct KPIs, and
        # a batch with two records for one group fails (snapshots.py); dlt's
        # deduplication would only sort every load to drop nothing
        write_disposition={
            "disposition": "merge",
            "strategy": "delete-insert",
            "deduplicated": True,
        },
        primary_key=("kpi_id", "group"),
        columns={CURSOR: {"data_type": "date"}, "value": {"data_type": "double"}},
    )
    async def kpi_snapshots(listed: list[dict[str, Any]]) -> AsyncIterator[pa.Table]:
        ids = [kpi["id"] for kpi in listed]
        state = dlt.current.resource_state()
        state.pop("incremental", None)  # the dlt incremental `kpi_cursors` replaced
        kpi_cursors: dict[str, str] = state.setdefault("kpi_cursors", {})
        if backfill is None:
            last = today
            starts = {
                kpi: _fetch_from(kpi_cursors.get(kpi), first_day, lookback, grouping) for kpi in ids
            }
        else:
            first, last = backfill
            starts = dict.fromkeys(ids, first)
        jobs = snapshot_reads.plan(
            starts,
            last,
            group_by=grouping,
            window_days=window_days,
            batch_size=batch_size,
            account_wide=chosen.account_wide is not None,
        )
        known = dlt.current.source_schema().tables.get("kpi_snapshots", {}).get("columns", {})
        async with client.session(config) as http_session:
            reader = snapshot_reads.SnapshotReader(
                http_session,
                config,
                chosen,
                ids,
                group_by=grouping,
                time_zone=tz_name,
                tz=tz,
                known=known,
                bound=bound,
            )
            async for table in reader.tables(jobs):
                yield table
        if backfill is None:  # a KPI moves on only when every batch it was in loaded
            kpi_cursors.update((kpi, today.isoformat()) for kpi in ids if kpi not in reader.failed)
            positions = [kpi_cursors.get(kpi, first_day.isoformat()) for kpi in ids]
            if positions:  # for the run summary: where the next run starts, at the earliest
                state.setdefault("cursors", {})[CURSOR] = min(positions)

    @dlt.transformer(
        data_from=kpis,
        name="kpi_projections",
        write_disposition="merge",
        primary_key=("kpi_id", "id"),
        merge_key="kpi_id",
        columns=projections.COLUMNS,
    )
    async def kpi_projections(listed: list[dict[str, Any]]) -> AsyncIterator[Any]:
        async with client.session(config) as http_session:

            async def fetch(kpi_id: str) -> AsyncIterator[list[dict[str, Any]]]:
                embedded = carried.get(kpi_id)
                yield await projections.of_kpi(
                    http_session, config, kpi_id, embedded, kpis_endpoint
                )

            async for outcome in fan_in([kpi["id"] for kpi in listed], fetch, concurrency=bound):
                if outcome.item:
                    yield outcome.item
                elif outcome.error is not None:
                    record_part_failure(
                        SOURCE, outcome.error, "kpi_projections", fatal=payment_required
                    )

    @dlt.transformer(
        data_from=kpis,
        name="kpi_statistics",
        write_disposition="merge",
        primary_key=("kpi_id", "period_type", "read_on"),
        columns={
            "read_on": {"data_type": "date"},
            **{
                f"{period}__{field}": {"data_type": "double"}
                for period in ("current_period", "previous_period", "next_projection")
                for field in ("value", "delta_percentage")
            },
        },
    )
    async def kpi_statistics(listed: list[dict[str, Any]]) -> AsyncIterator[Any]:
        jobs = [(kpi["id"], period) for kpi in listed for period in period_types]
        async with client.session(config) as http_session:

            async def fetch(job: tuple[str, str]) -> AsyncIterator[dict[str, Any]]:
                kpi_id, period = job
                stats = await client.statistics(http_session, config, kpi_id, period, tz_name)
                added = {"kpi_id": kpi_id, "period_type": period, "read_on": today}
                yield with_fields(stats, {**added, "time_zone": tz_name})

            rows: list[dict[str, Any]] = []
            async for outcome in fan_in(jobs, fetch, concurrency=bound):
                if outcome.item is not None:
                    rows.append(outcome.item)
                    if len(rows) >= 1000:
                        yield rows
                        rows = []
                elif outcome.error is not None:
                    record_part_failure(
                        SOURCE, outcome.error, "kpi_statistics", fatal=payment_required
                    )
            if rows:
                yield rows

    @dlt.resource(name="insight_usages", write_disposition="merge", primary_key="insight_id")
    async def insight_usages() -> AsyncIterator[dict[str, Any]]:
        if not insights:
            return
        async with client.session(config) as http_session:

            async def fetch(insight_id: str) -> AsyncIterator[dict[str, Any]]:
                used = await client.insight_kpis(http_session, config, insight_id)
                yield {
                    "insight_id": insight_id,
                    "kpi_count": len(used),
                    "read_at": pendulum.now("UTC"),
                    "kpis": used,
                }

            async for outcome in fan_in(insights, fetch, concurrency=bound):
                if outcome.item is not None:
                    yield outcome.item
                elif outcome.error is not None:
                    record_part_failure(
                        SOURCE, outcome.error, "insight_usages", fatal=payment_required
                    )

    return kpis, kpi_snapshots, kpi_projections, kpi_statistics, insight_usages


def check() -> str:
    """One cheap authenticated call: the first KPI of the list, for its total."""
    config = QuantiveConfig.resolved()

    async def call() -> str:
        async with client.session(config) as http_session:
            total = await client.count_kpis(http_session, config)
        visible = "the KPI list gives no total" if total is None else f"{total} KPI(s) visible"
        return f"token and account accepted, {visible}"

    return asyncio.run(call())


def discover() -> Discovery:
    return asyncio.run(catalog.discover(QuantiveConfig.resolved()))


def _backfill(
    backfill_start: str | None,
    backfill_end: str | None,
    first_day: date,
    tz: pendulum.FixedTimezone,
    today: date,
    group_by: str,
) -> tuple[date, date] | None:
    """`--start/--end` as the first and last day (inclusive) asked for every KPI, or None
    for an incremental run. `--end` is exclusive; without `--start`, from `start_date`."""
    if not (backfill_start or backfill_end):
        return None
    first = _day("--start", backfill_start, tz) if backfill_start else first_day
    last = _day("--end", backfill_end, tz) - timedelta(days=1) if backfill_end else today
    return periods.group_start(first, group_by), last


def _fetch_from(cursor: str | None, first_day: date, lookback: int, group_by: str) -> date:
    """Where a KPI's snapshots are asked from: its cursor minus `lookback` days, at the
    start of that group; `first_day` for a KPI never fully loaded."""
    if cursor is None:
        return first_day
    return periods.group_start(date.fromisoformat(cursor) - timedelta(days=lookback), group_by)


def _first_day(start_date: str | None, tz: pendulum.FixedTimezone, today: date) -> date:
    if start_date:
        return _day("start_date", start_date, tz)
    return today - timedelta(days=DEFAULT_HISTORY_DAYS)


def _day(key: str, value: str, tz: pendulum.FixedTimezone) -> date:
    """The day `value` falls on in `time_zone`, the zone snapshot groups are computed in."""
    return parse_datetime(SOURCE, key, value, tz).date()


def _period_types(configured: list[str] | None) -> list[str]:
    chosen = optional_list(SOURCE, "statistics_periods", configured) or list(PERIOD_TYPES)
    unknown = [p for p in chosen if p not in PERIOD_TYPES]
    if unknown:
        raise ConfigError(
            f"statistics_periods has {', '.join(unknown)}; allowed: {', '.join(PERIOD_TYPES)}",
            source=SOURCE,
            hint=config_key_help(SOURCE, "statistics_periods"),
        )
    return list(dict.fromkeys(chosen))
