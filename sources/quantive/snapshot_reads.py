"""The requests `kpi_snapshots` makes in a run, and the KPIs whose cursors they hold.

Each KPI's snapshots are asked from its own start (its cursor minus `lookback_days`, or
`start_date`) to today. By ids (the default), KPIs that share a start go together in
batches of `snapshot_batch_size` ids, in windows of `snapshot_window_days`; a failed
batch holds its KPIs' cursors. An account-wide read (`selection.py`: `v2_snapshots`, or
a KPI filter) names no KPI: one request per window, from the latest start, answers
every selected KPI; only KPIs behind that start (one added since, one whose last run
failed) are read by id for the days before it, so no day of a KPI is asked twice. Its
answer is split by KPI and each KPI's records are a part of their own: a KPI whose
records cannot be read fails alone and keeps its cursor while the others load, and
records of a KPI the list does not have (created since the list was read, or a filter
the server reads otherwise than `Selection.keeps`) fail with one line, never dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pendulum
import pyarrow as pa
from dlt.common.utils import chunks

from sources.common.arrow import conform
from sources.common.completeness import unreadable
from sources.common.errors import PipelineError
from sources.common.http import VendorHttp
from sources.common.jobs import Bound, fan_in
from sources.common.stats import record_part_failure
from sources.quantive import client, periods
from sources.quantive.client import SOURCE, QuantiveConfig, payment_required
from sources.quantive.selection import V1_SNAPSHOTS, Selection
from sources.quantive.snapshots import kpi_parts, read_body, records_table


@dataclass(frozen=True)
class Job:
    kpis: tuple[str, ...]  # the KPIs whose cursors wait for this request
    first: date
    last: date
    account_wide: bool = False


@dataclass(frozen=True)
class Failed:
    """What an account-wide read yields for a KPI it could not read."""

    kpis: tuple[str, ...]
    error: PipelineError


def plan(
    starts: dict[str, date],
    last: date,
    *,
    group_by: str,
    window_days: int,
    batch_size: int,
    account_wide: bool,
) -> list[Job]:
    """The run's requests for KPIs starting at `starts` (group-aligned days)."""
    by_start: dict[date, list[str]] = {}
    for kpi, start in starts.items():
        by_start.setdefault(start, []).append(kpi)
    jobs: list[Job] = []
    end = last
    if account_wide and by_start:
        latest = max(by_start)
        every = tuple(starts)
        jobs = [
            Job(every, frm, to, account_wide=True)
            for frm, to in periods.windows(latest, last, group_by, window_days)
        ]
        del by_start[latest]
        end = latest - timedelta(days=1)
    return jobs + [
        Job(tuple(batch), frm, to)
        for start, kpis in sorted(by_start.items())
        for frm, to in periods.windows(start, end, group_by, window_days)
        for batch in chunks(kpis, batch_size)
    ]


class SnapshotReader:
    """Runs one run's jobs and yields their Arrow tables; `failed` collects the KPIs
    whose cursors must hold. One line per kind of failure, however many parts fail
    alike; HTTP 402 (account-wide) stops the resource."""

    def __init__(
        self,
        http: VendorHttp,
        config: QuantiveConfig,
        chosen: Selection,
        listed: Collection[str],
        *,
        group_by: str,
        time_zone: str,
        tz: pendulum.FixedTimezone,
        known: dict[str, Any],
        bound: Bound,
    ) -> None:
        self.http, self.config, self.chosen, self.listed = http, config, chosen, set(listed)
        self.group_by, self.time_zone, self.tz, self.known = group_by, time_zone, tz, known
        self.bound = bound  # shared with the source's other resources
        self.failed: set[str] = set()
        self._reported: set[str] = set()

    async def tables(self, jobs: list[Job]) -> AsyncIterator[pa.Table]:
        async for outcome in fan_in(jobs, self._read, concurrency=self.bound):
            if isinstance(outcome.item, Failed):
                self._fail(outcome.item.kpis, outcome.item.error, outcome.spec)
            elif outcome.item is not None:
                yield outcome.item
            elif outcome.error is not None:
                self._fail(outcome.spec.kpis, outcome.error, outcome.spec)

    def _path(self, job: Job) -> str:
        if job.account_wide and self.chosen.account_wide:
            return self.chosen.account_wide
        return V1_SNAPSHOTS

    async def _read(self, job: Job) -> AsyncIterator[pa.Table | Failed]:
        path = self._path(job)
        select = self.chosen.filter if job.account_wide else {"ids": ",".join(job.kpis)}
        body = await client.snapshots(
            self.http,
            self.config,
            path,
            select,
            job.first,
            job.last,
            time_zone=self.time_zone,
            group_by=self.group_by,
        )
        endpoint = client.endpoint_of(self.config, path)
        if job.account_wide:
            for item in self._per_kpi(body, job.last, endpoint):
                yield item
            return
        what = f"snapshots of {len(job.kpis)} KPI(s) to {job.last}"
        found = read_body(body, job.kpis, endpoint)
        table = records_table(found, what, **self._options(job.last, endpoint))
        if table is not None and table.num_rows:
            yield conform(table, self.known)

    def _per_kpi(self, body: Any, last: date, endpoint: str) -> Iterator[pa.Table | Failed]:
        """An account-wide answer's rows, KPI by KPI; what cannot be read, as `Failed`."""
        parts = kpi_parts(body, endpoint)
        unlisted = sorted(set(parts) - self.listed)
        if unlisted:
            what = "expected snapshots only of KPIs the KPI list has"
            hint = "a KPI created since the list was read loads on the next run; else report it"
            yield Failed(
                (), unreadable(what, unlisted, source=SOURCE, endpoint=endpoint, hint=hint)
            )
        for kpi in sorted(parts.keys() & self.listed):
            what = f"snapshots of KPI {kpi} to {last}"
            try:
                table = records_table(parts[kpi], what, **self._options(last, endpoint))
            except PipelineError as exc:
                yield Failed((kpi,), exc)
                continue
            if table is not None and table.num_rows:
                yield conform(table, self.known)

    def _options(self, last: date, endpoint: str) -> dict[str, Any]:
        return {
            "group_by": self.group_by,
            "time_zone": self.time_zone,
            "tz": self.tz,
            "last": last,
            "endpoint": endpoint,
        }

    def _fail(self, kpis: tuple[str, ...], error: BaseException, job: Job) -> None:
        self.failed.update(kpis)
        kind = _kind(error)
        if kind in self._reported:
            return  # the same failure as another part's: one line says it
        self._reported.add(kind)
        record_part_failure(
            SOURCE,
            error,
            "kpi_snapshots",
            endpoint=client.endpoint_of(self.config, self._path(job)),
            fatal=payment_required,
        )


def _kind(error: BaseException) -> str:
    """What a failure says, without what each part saw (`unreadable`'s "; got …"): an
    answer in a form this source cannot read fails every part alike."""
    text = error.cause if isinstance(error, PipelineError) else f"{type(error).__name__}: {error}"
    return text.split("; got ", 1)[0]
