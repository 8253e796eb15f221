"""The history of the export jobs a run creates: tables `jobs` and `job_logs`.

Holistics cannot list past jobs (List Jobs needs their `ids`), so each run keeps its own:
once an export job ends, Get Job result and Get Job's logs are read and the job is
loaded with them, whether the export succeeded or not. `jobs` holds the last state the
run polled (`id`, `status`, `source_type`/`source_id` = the widget, `created_at`, …)
and `job_result`, Get Job result's whole body `{status, error, result}` (JSON); it is
merged on `id`. `job_logs` holds one row per log entry with `job_id` and `_position`
(its place in the job's log, the key with `job_id`: entries carry no documented id).

A job whose result or logs cannot be read loads nothing of its history and fails the
`jobs` part with one line; its export is unaffected."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import dlt

from sources.common.errors import PipelineError
from sources.common.http import VendorHttp
from sources.common.names import with_fields
from sources.common.stats import record_part_failure
from sources.holistics import client
from sources.holistics.client import SOURCE, HolisticsConfig

JOBS = dlt.mark.make_hints(
    table_name="jobs",
    write_disposition="merge",
    primary_key="id",
    columns={"job_result": {"data_type": "json"}},
)
JOB_LOGS = dlt.mark.make_hints(
    table_name="job_logs", write_disposition="merge", primary_key=["job_id", "_position"]
)


@dataclass(frozen=True)
class JobRecord:
    job: Mapping[str, Any]  # the job as last polled, in an end state
    result: dict[str, Any]
    logs: list[dict[str, Any]]

    def tables(self) -> Iterator[Any]:
        yield dlt.mark.with_hints(
            [with_fields(self.job, {"job_result": self.result})], JOBS, create_table_variant=True
        )
        if self.logs:
            rows = [
                with_fields(entry, {"job_id": self.job["id"], "_position": position})
                for position, entry in enumerate(self.logs)
            ]
            yield dlt.mark.with_hints(rows, JOB_LOGS, create_table_variant=True)


async def read(
    http: VendorHttp, config: HolisticsConfig, job: Mapping[str, Any]
) -> JobRecord | None:
    """The ended job with its result and logs; None (and a failed `jobs` part) when
    either cannot be read."""
    job_id = str(job["id"])
    try:
        result, logs = await asyncio.gather(
            client.job_result(http, config, job_id), client.job_logs(http, config, job_id)
        )
    except PipelineError as exc:
        record_part_failure(SOURCE, exc, "jobs", what=f"export job {job_id}")
        return None
    return JobRecord(job, result, logs)
