"""Holistics API v2 calls: cursor-paged lists, dashboards, widget exports as async jobs.

Protocol (vendor-docs/holistics-api-v2.txt): `X-Holistics-Key` on every request to the
region host (`https://{secure|eu|us}.holistics.io/api/v2`); lists page with `limit`
(1..100) and `after`/`before` cursors, answering `{<items>: [...], cursors: {previous,
next}}`; errors answer `{type, message, details}`; exports are jobs:
`POST /dashboard_widgets/{id}/submit_export` → `{job: {id, status}}`, status via
`GET /jobs?ids[]=…` (List Jobs, up to 100 ids) or `GET /jobs/{id}` until the job ends,
the log lines of a failed job at `GET /jobs/{id}/logs`, the file at
`GET /exports/download?job_id=…`.

Where the docs are silent or disagree, every plausible form is read (the sandbox speaks
each one, `sandbox.holistics.HolisticsSim.DIALECTS`; docs/vendor-assumptions.md):
- List Jobs' `ids` ("Array of integers", spelling not given): `ids[]=1&ids[]=2` (Rails),
  `ids=1&ids=2`, `ids=1,2`, tried in that order until one answers every id of a batch,
  which is then kept for the session (and logged). A job the answer leaves out is read
  with `GET /jobs/{id}`; a job that one does not know either fails its export at once.
- Job states: the docs' Ruby example polls while `created`, `running`, `queued` and
  downloads on `success`; other builds spell them `pending`/`processing`/`in_progress`,
  `succeeded`/`completed`/`done`, `failed`/`error`, `canceled`, in any case. A state in
  none of these lists ends the export at once with a line naming it (the docs: anything
  but the pending states is the end), never a wait until job_timeout.
- A finished job that says how many rows its export holds (`row_count` and the like, on
  the job or its `result`) has that count checked against the CSV's.
- The end of a list: `cursors.next` null, empty, absent, or no `cursors` at all. A cursor
  or an item id that comes again is an error, never de-duplicated.
- The export's output type goes in the JSON body (the v2 reference) and, for the older
  reference that lists it as a query parameter, in the query string too.
- The download answers the file itself or a redirect to file storage on another host
  (signed in its path or, as S3 pre-signs, in its query string): it is followed without
  the API key, which only ever goes to the API host, and without our parameters.
- Rate limits count per user and endpoint (docs: "based on user and endpoint"), an
  endpoint being a route (`GET /dashboards/{id}` for every id): the client keeps one
  quota gate per route, fed by that route's `RateLimit-*` headers. `RateLimit-Reset`
  may be seconds or a Unix time; both are understood.
- `InternalHolisticsError` bodies carry a debug id (in `details.debug_id` or `debug_id`,
  or only in the message); it is kept in the error line for Holistics support."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

from sources.common.completeness import unreadable
from sources.common.errors import JobFailed, VendorError
from sources.common.http import ScopedAuth, VendorHttp, origin_of
from sources.common.jobs import each
from sources.common.paging import CursorPaginator, Followed
from sources.holistics.config import MAX_PAGE, HolisticsConfig
from sources.holistics.errors import describe_error

log = logging.getLogger(__name__)

SOURCE = "holistics"
MAX_JOB_IDS = 100
# job states, by what they mean (compared lower-cased, `-`/space as `_`)
PENDING = frozenset(
    {"created", "queued", "running", "pending", "enqueued", "processing", "in_progress"}
)
SUCCEEDED = frozenset({"success", "succeeded", "successful", "completed", "complete", "done"})
FAILED = frozenset({"failure", "failed", "error", "errored", "cancelled", "canceled", "aborted"})
SUCCESS, FAILURE = "success", "failure"
# how List Jobs may take its ids: query parameter name, joined with commas
ID_FORMS: dict[str, tuple[str, bool]] = {
    "ids[]=1&ids[]=2": ("ids[]", False),
    "ids=1&ids=2": ("ids", False),
    "ids=1,2": ("ids", True),
}
REFUSED = ("HTTP 400", "HTTP 404", "HTTP 405", "HTTP 422")
ROW_COUNT_KEYS = ("row_count", "rows_count", "num_rows", "total_rows", "rows")
JOB_LOGS, JOB_RESULT = "GET /jobs/{id}/logs", "GET /jobs/{id}/result"


def quota_bucket(method: str, url: httpx.URL) -> str:
    """The route a request counts against: numeric path segments become `{id}`."""
    path = re.sub(r"/\d+(?=/|$)", "/{id}", url.path)
    return f"{url.host}:{url.port} {method} {path}"


def session(config: HolisticsConfig) -> VendorHttp:
    """An HTTP session for one extract; the key goes to the configured Holistics host only."""
    auth = ScopedAuth([origin_of(config.base_url)], lambda: {"X-Holistics-Key": config.api_key})
    return config.http_session([config.base_url], auth, describe_error, quota_key=quota_bucket)


# -- lists ----------------------------------------------------------------------------


async def pages(
    http: VendorHttp,
    config: HolisticsConfig,
    path: str,
    key: str,
    params: Mapping[str, Any] | None = None,
    beside: Callable[[dict[str, Any]], None] | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every page of a cursor-paged list: `limit`, then `after=<cursors.next>` to the end;
    `beside(body)` sees each whole body (List Users' `counters` and `groups` maps) once
    its paging is checked."""
    url = f"{config.base_url}{path}"
    endpoint = f"GET {path}"
    query: dict[str, Any] = {**(params or {}), "limit": min(MAX_PAGE, config.page_size)}

    async def fetch(after: Any) -> Followed:
        body = await http.get_json(url, params={**query, "after": after} if after else query)
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise unreadable(f"expected a {key!r} list", body, source=SOURCE, endpoint=endpoint)
        return Followed(items, next_cursor(body, endpoint), body)

    paginator = CursorPaginator(
        fetch,
        what=f"list {key}",
        source=SOURCE,
        endpoint=endpoint,
        identity=lambda items: item_ids(items, key, endpoint),
    )
    async for page in paginator.pages():
        if beside is not None:
            beside(page.body)
        if page.items:
            yield page.items


def item_ids(items: list[Any], key: str, endpoint: str) -> list[Any]:
    """Each item's id (the tables' primary key); an item without one cannot be loaded."""
    for item in items:
        if not isinstance(item, dict) or item.get("id") is None:
            raise unreadable(
                f"a {key!r} item without an id", item, source=SOURCE, endpoint=endpoint
            )
    return [str(item["id"]) for item in items]


def next_cursor(body: dict[str, Any], endpoint: str) -> Any:
    """`cursors.next`; none (null, empty, absent, or no `cursors` at all) ends the list."""
    cursors = body.get("cursors")
    if cursors is not None and not isinstance(cursors, dict):
        raise unreadable("expected a 'cursors' object", cursors, source=SOURCE, endpoint=endpoint)
    after = (cursors or {}).get("next")
    if not after:
        how = "no cursors" if cursors is None else f"cursors.next {after!r}"
        log.info("%s: %s: the last page says so with %s", SOURCE, endpoint, how)
    return after


async def get_object(
    http: VendorHttp, config: HolisticsConfig, path: str, key: str, object_id: Any
) -> dict[str, Any]:
    """`GET {path}/{id}` → `{<key>: {...}}` (Get a Dashboard, a Query Report, a Data Set…)."""
    body = await http.get_json(f"{config.base_url}{path}/{object_id}")
    found = body.get(key) if isinstance(body, dict) else None
    if not isinstance(found, dict):
        raise unreadable(
            f"expected a {key!r} object", body, source=SOURCE, endpoint=f"GET {path}/{{id}}"
        )
    return found


async def current_user(http: VendorHttp, config: HolisticsConfig) -> dict[str, Any]:
    body = await http.get_json(f"{config.base_url}/users/me")
    user = body.get("user") if isinstance(body, dict) else None
    return user if isinstance(user, dict) else {}


# -- exports --------------------------------------------------------------------------


async def submit_export(
    http: VendorHttp, config: HolisticsConfig, widget_id: str, conditions: Sequence[dict]
) -> str:
    """Start a CSV export of a widget; the job's id."""
    body: dict[str, Any] = {"output": "csv"}
    if conditions:
        body["dashboard_filter_conditions"] = list(conditions)
    answer = await http.post_json(
        f"{config.base_url}/dashboard_widgets/{widget_id}/submit_export",
        params={"output": "csv"},
        json=body,
    )
    job = answer.get("job") if isinstance(answer, dict) else None
    if not isinstance(job, dict) or job.get("id") is None:
        raise unreadable(
            "expected a 'job' object with an id",
            answer,
            source=SOURCE,
            endpoint="POST /dashboard_widgets/{id}/submit_export",
        )
    return str(job["id"])


def job_state(job: Any) -> str | None:
    """`pending`, `success` or `failure` for a job object; None for a state not known."""
    status = job.get("status") if isinstance(job, Mapping) else None
    spelled = str(status or "").strip().lower().replace("-", "_").replace(" ", "_")
    if spelled in PENDING:
        return "pending"
    if spelled in SUCCEEDED:
        return SUCCESS
    if spelled in FAILED:
        return FAILURE
    return None


def is_final(job: Any) -> bool:
    """Whether polling is over: an end state, a state nobody knows (it ends at once, the
    docs treat every state but the pending ones as the end), or the job's own error."""
    return isinstance(job, Exception) or job_state(job) != "pending"


def declared_rows(job: Mapping[str, Any]) -> int | None:
    """The row count a finished job gives for its export, where it gives one."""
    for holder in (job, job.get("result")):
        if not isinstance(holder, Mapping):
            continue
        for key in ROW_COUNT_KEYS:
            value = holder.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


class JobStatuses:
    """Statuses of many jobs, through List Jobs in the id form the service understands.

    The docs give List Jobs' `ids` as an "Array of integers" without saying how it is
    spelt in a query string; each form of `ID_FORMS` is tried until one answers every id
    of a batch, and that one is kept. Jobs an answer leaves out are read one by one with
    `GET /jobs/{id}`, so a job is never waited for because the list missed it; a job that
    endpoint does not know either comes back as its error (which ends its wait)."""

    def __init__(self, http: VendorHttp, config: HolisticsConfig) -> None:
        self.http = http
        self.config = config
        self.form: str | None = None  # the form known to work with more than one id
        self.refused: set[str] = set()
        self._spellings: set[str] = set()

    async def __call__(self, ids: Sequence[str]) -> dict[str, Any]:
        """Each job's object (or error) by id, for up to 100 ids."""
        ids = [str(i) for i in ids[:MAX_JOB_IDS]]
        found = await self._listed(ids)
        missing = [i for i in ids if i not in found]
        if missing:
            singles = await each(missing, self._single, concurrency=MAX_JOB_IDS)
            found.update(zip(missing, singles, strict=True))
        for job in found.values():
            self._note_spelling(job)
        return found

    async def _listed(self, ids: list[str]) -> dict[str, Any]:
        best: dict[str, Any] = {}
        for form in self._candidates():
            name, joined = ID_FORMS[form]
            params = [(name, ",".join(ids))] if joined else [(name, i) for i in ids]
            try:
                body = await self.http.get_json(f"{self.config.base_url}/jobs", params=params)
            except VendorError as exc:
                if not exc.cause.startswith(REFUSED):
                    raise
                self._refuse(form, exc)
                continue
            jobs = jobs_by_id(body)
            if len(jobs) == len(ids):
                self._keep(form, len(ids))
                return jobs
            if len(jobs) > len(best):
                best = jobs
        return best

    def _candidates(self) -> list[str]:
        ordered = [self.form] if self.form else []
        return ordered + [f for f in ID_FORMS if f not in self.refused and f != self.form]

    def _keep(self, form: str, batch: int) -> None:
        if batch > 1 and self.form != form:
            self.form = form
            log.info("%s: List Jobs takes its ids as %s", SOURCE, form)

    def _refuse(self, form: str, exc: VendorError) -> None:
        self.refused.add(form)
        if self.form == form:
            self.form = None
        if len(self.refused) == len(ID_FORMS):
            log.warning(
                "%s: List Jobs refuses every id form (%s); polling GET /jobs/{id} per job",
                SOURCE,
                exc.cause,
            )

    async def _single(self, job_id: str) -> Any:
        endpoint = "GET /jobs/{id}"
        try:
            body = await self.http.get_json(f"{self.config.base_url}/jobs/{job_id}")
        except VendorError as exc:
            return exc
        job = body.get("job") if isinstance(body, dict) else None
        if not isinstance(job, dict):
            return unreadable("expected a 'job' object", body, source=SOURCE, endpoint=endpoint)
        return job

    def _note_spelling(self, job: Any) -> None:
        """Say once per session which spelling of a job state the service uses."""
        if not isinstance(job, Mapping):
            return
        status = str(job.get("status"))
        if status not in self._spellings and job_state(job) is not None:
            self._spellings.add(status)
            log.info("%s: job state %r read as %s", SOURCE, status, job_state(job))


def jobs_by_id(body: Any) -> dict[str, Any]:
    """List Jobs' `{jobs: [...]}` by job id; any other shape is refused with what it was."""
    jobs = body.get("jobs") if isinstance(body, dict) else None
    if not isinstance(jobs, list) or not all(isinstance(j, dict) and "id" in j for j in jobs):
        raise unreadable(
            "expected a 'jobs' list of objects with ids", body, source=SOURCE, endpoint="GET /jobs"
        )
    return {str(job["id"]): job for job in jobs}


async def job_logs(http: VendorHttp, config: HolisticsConfig, job_id: str) -> list[dict]:
    """Get Job's logs: `{job_logs: [...]}`, each entry an object."""
    body = await http.get_json(f"{config.base_url}/jobs/{job_id}/logs")
    logs = body.get("job_logs") if isinstance(body, dict) else None
    if not isinstance(logs, list) or not all(isinstance(e, dict) for e in logs):
        raise unreadable(
            "expected a 'job_logs' list of objects", body, source=SOURCE, endpoint=JOB_LOGS
        )
    return logs


async def job_result(http: VendorHttp, config: HolisticsConfig, job_id: str) -> dict:
    """Get Job result: `{status, error, result}` as documented."""
    body = await http.get_json(f"{config.base_url}/jobs/{job_id}/result")
    if not isinstance(body, dict) or not {"status", "result"} <= set(body):
        raise unreadable(
            "expected {status, error, result}", body, source=SOURCE, endpoint=JOB_RESULT
        )
    return body


def job_failed(widget_id: str, job: Mapping[str, Any], logs: Sequence[dict]) -> JobFailed:
    """A failed job's line, with its log messages, errors first."""
    entries = [e for e in logs if e.get("message")]
    entries.sort(key=lambda e: str(e.get("level", "")).lower() not in ("error", "fatal"))
    lines = [" ".join(str(e["message"]).split()) for e in entries]
    detail = "; ".join(lines[:3]) if lines else "no log lines"
    return JobFailed(
        f"export job {job.get('id')} of widget {widget_id} ended {job.get('status')}: {detail}",
        source=SOURCE,
        endpoint="GET /jobs",
    )


async def download_export(
    http: VendorHttp, config: HolisticsConfig, job_id: str, path: Path
) -> int:
    """The exported file, streamed to `path` (a redirect to storage is followed keyless)."""
    return await http.download_to_path(
        f"{config.base_url}/exports/download", path, params={"job_id": job_id}
    )


def exportable(widget: dict[str, Any]) -> bool:
    """Whether the key's owner may export the widget's data (Get a Dashboard's
    `permissions.export_data`); a widget that names no permissions is tried."""
    permissions = widget.get("permissions")
    if not isinstance(permissions, dict) or "export_data" not in permissions:
        return True
    return bool(permissions["export_data"])
