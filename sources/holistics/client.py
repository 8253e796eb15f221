"""Holistics API v2 calls: cursor-paged lists, dashboards, widget exports as async jobs.

Protocol (vendor-docs/holistics-api-v2.txt): `X-Holistics-Key` on every request to the
region host (`https://{secure|eu|us}.holistics.io/api/v2`); lists page with `limit`
(1..100) and `after`/`before` cursors, answering `{<items>: [...], cursors: {previous,
next}}`; errors answer `{type, message, details}`; exports are jobs:
`POST /dashboard_widgets/{id}/submit_export` → `{job: {id, status}}`, status via
`GET /jobs?ids[]=…` (List Jobs, up to 100 ids) until `success`, `failure` or `cancelled`,
the log lines of a failed job at `GET /jobs/{id}/logs`, the file at
`GET /exports/download?job_id=…`.

Assumptions where the docs are silent, kept here for the next engineer:
- List Jobs takes its ids the Rails way, `ids[]=1&ids[]=2` (Holistics is a Rails app;
  a repeated plain `ids=` would keep only the last). Ids the service does not know are
  left out of the answer, so a job missing from it is simply still waited for.
- Job states: `created`, `queued`, `running` are pending; `success` is done; `failure`
  and `cancelled` (also spelt `canceled`) are failed; any other state is pending.
- The export's output type goes in the JSON body (the v2 reference) and, for the older
  reference that lists it as a query parameter, in the query string too.
- The download may answer with a redirect to file storage on another host (a signed
  URL): it is followed without the API key, which only ever goes to the API host.
- Rate limits count per user and endpoint (docs: "based on user and endpoint"), an
  endpoint being a route (`GET /dashboards/{id}` for every id): the client keeps one
  quota gate per route, fed by that route's `RateLimit-*` headers. `RateLimit-Reset`
  may be seconds or a Unix time; both are understood.
- `InternalHolisticsError` bodies carry a debug id (in `details.debug_id` or `debug_id`,
  or only in the message); it is kept in the error line for Holistics support."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from sources.common.errors import JobFailed, MalformedResponse, PipelineError
from sources.common.http import HttpPolicy, ScopedAuth, VendorHttp, describe_plain, origin_of

SOURCE = "holistics"
REGIONS = {
    "apac": "https://secure.holistics.io/api/v2",
    "eu": "https://eu.holistics.io/api/v2",
    "us": "https://us.holistics.io/api/v2",
}
DEFAULT_BASE_URL = REGIONS["apac"]
MAX_PAGE = 100
MAX_JOB_IDS = 100
PENDING = frozenset({"created", "queued", "running"})
FAILED = frozenset({"failure", "failed", "cancelled", "canceled", "error"})
SUCCESS = "success"


@dataclass(frozen=True)
class HolisticsConfig:
    api_key: str
    base_url: str
    page_size: int = MAX_PAGE
    job_timeout: float = 1800.0
    poll_interval: float = 1.0
    http: HttpPolicy = field(default_factory=HttpPolicy)


# -- errors ---------------------------------------------------------------------------

_OBJECT = re.compile(r"/([a-z_]+)/(\d+)(?:/[a-z_]+)?/?$")


def _object_of(url: httpx.URL) -> str | None:
    """`dashboard_widgets/17/submit_export` → 'dashboard widget 17'."""
    match = _OBJECT.search(url.path)
    if not match:
        return None
    kind = match.group(1).removesuffix("s").replace("_", " ")
    return f"{kind} {match.group(2)}"


def describe_error(response: httpx.Response) -> str:
    """The documented error body `{type, message, details}` on one line, by type."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not (body.get("type") or body.get("message")):
        return describe_plain(response)
    kind = str(body.get("type") or "BaseError")
    message = " ".join(str(body.get("message") or "").split())
    details = body.get("details") if isinstance(body.get("details"), dict) else {}
    text = f"{kind}: {message}" if message else kind
    if kind == "PermissionDeniedError":
        thing = _object_of(response.request.url)
        text = f"{kind} on {thing}: {message}" if thing else text
    elif kind == "RecordError" and isinstance(body.get("record"), dict):
        problems = [
            f"{name}: {', '.join(map(str, errors))}"
            for name, errors in body["record"].items()
            if errors
        ]
        if problems:
            text += f" ({'; '.join(problems)})"
    elif kind == "InternalHolisticsError":
        debug_id = body.get("debug_id") or details.get("debug_id")
        if debug_id and str(debug_id) not in text:
            text += f" (debug id {debug_id})"
    elif kind == "MaintenanceError":
        text += " (Holistics is in maintenance mode; rerun later)"
    elif kind == "SubscriptionError":
        text += " (the plan does not include this; ask the Holistics admin)"
    description = details.get("description")
    if description and str(description) not in text:
        text += f" - {description}"
    return text[:500]


def quota_bucket(method: str, url: httpx.URL) -> str:
    """The route a request counts against: numeric path segments become `{id}`."""
    path = re.sub(r"/\d+(?=/|$)", "/{id}", url.path)
    return f"{url.host}:{url.port} {method} {path}"


def session(config: HolisticsConfig) -> VendorHttp:
    """An HTTP session for one extract; the key goes to the configured Holistics host only."""
    auth = ScopedAuth([origin_of(config.base_url)], lambda: {"X-Holistics-Key": config.api_key})
    return VendorHttp(
        SOURCE,
        base_urls=[config.base_url],
        auth=auth,
        policy=config.http,
        describe_error=describe_error,
        quota_key=quota_bucket,
    )


# -- lists ----------------------------------------------------------------------------


async def pages(
    http: VendorHttp,
    config: HolisticsConfig,
    path: str,
    key: str,
    params: Mapping[str, Any] | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every page of a cursor-paged list: `limit`, then `after=<cursors.next>` to the end."""
    url = f"{config.base_url}{path}"
    query: dict[str, Any] = {**(params or {}), "limit": min(MAX_PAGE, config.page_size)}
    seen: set[str] = set()
    while True:
        body = await http.get_json(url, params=query)
        items = body.get(key) if isinstance(body, dict) else None
        if not isinstance(items, list):
            raise MalformedResponse(
                f"expected a {key!r} list in the answer", source=SOURCE, endpoint=f"GET {path}"
            )
        if items:
            yield items
        cursors = body.get("cursors") or {}
        after = cursors.get("next") if isinstance(cursors, dict) else None
        if not after:  # an empty page that names a next cursor is not the end: follow it
            return
        if str(after) in seen:
            raise MalformedResponse(
                f"cursor {after!r} repeated; the list would never end",
                source=SOURCE,
                endpoint=f"GET {path}",
            )
        seen.add(str(after))
        query["after"] = after


async def get_dashboard(http: VendorHttp, config: HolisticsConfig, dashboard_id: Any) -> dict:
    body = await http.get_json(f"{config.base_url}/dashboards/{dashboard_id}")
    dashboard = body.get("dashboard") if isinstance(body, dict) else None
    if not isinstance(dashboard, dict):
        raise MalformedResponse(
            "expected a 'dashboard' object", source=SOURCE, endpoint="GET /dashboards/{id}"
        )
    return dashboard


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
    try:
        return str(answer["job"]["id"])
    except (KeyError, TypeError):
        raise MalformedResponse(
            "submit_export answered without job.id",
            source=SOURCE,
            endpoint="POST /dashboard_widgets/{id}/submit_export",
        ) from None


def is_final(job: Mapping[str, Any]) -> bool:
    status = str(job.get("status") or "")
    return status == SUCCESS or status in FAILED


async def list_jobs(
    http: VendorHttp, config: HolisticsConfig, ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Status of up to 100 jobs in one request (List Jobs), by job id."""
    params = [("ids[]", job_id) for job_id in ids[:MAX_JOB_IDS]]
    body = await http.get_json(f"{config.base_url}/jobs", params=params)
    jobs = body.get("jobs") if isinstance(body, dict) else None
    if not isinstance(jobs, list):
        raise MalformedResponse("expected a 'jobs' list", source=SOURCE, endpoint="GET /jobs")
    return {str(job.get("id")): job for job in jobs if isinstance(job, dict)}


async def job_logs(http: VendorHttp, config: HolisticsConfig, job_id: str) -> list[str]:
    """A failed job's log messages, errors first; empty when they cannot be read."""
    try:
        body = await http.get_json(f"{config.base_url}/jobs/{job_id}/logs")
    except PipelineError:
        return []
    logs = body.get("job_logs") if isinstance(body, dict) else None
    if not isinstance(logs, list):
        return []
    entries = [e for e in logs if isinstance(e, dict) and e.get("message")]
    entries.sort(key=lambda e: str(e.get("level", "")).lower() not in ("error", "fatal"))
    return [" ".join(str(e["message"]).split()) for e in entries]


async def job_failed(
    http: VendorHttp, config: HolisticsConfig, widget_id: str, job: Mapping[str, Any]
) -> JobFailed:
    job_id = str(job.get("id"))
    logs = await job_logs(http, config, job_id)
    detail = "; ".join(logs[:3]) if logs else "no log lines"
    return JobFailed(
        f"export job {job_id} of widget {widget_id} ended {job.get('status')}: {detail}",
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
