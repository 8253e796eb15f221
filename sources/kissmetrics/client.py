"""Kissmetrics API calls: list reports, run a report over a window, page its results.

Protocol (vendor-docs/kissmetrics-api.md): `GET {api_url}/core/reports` (HAL links);
`POST` the report's `run` link with `start_date`/`end_date` → 202 + `Location` (status);
status answers 200 `{completed: false, progress}` until done, then 201 + `Location`
(results); results pages carry `data` (positional arrays), `pagination` and links.

Assumptions where the doc is silent or contradicts itself, kept here for the next engineer:
- Dates: the prose says Unix seconds, the example sends ISO-8601 with the zone's offset
  and an inclusive end one second before the next window. We send the example's form.
- Error bodies are `{"meta": {"status", "message"}}`; we show `message` when present.
- Results paging: `limit` (page_size, default 1,000) and `offset`. The first page's
  `pagination.total` tells how many rows there are, so the other pages are asked for by
  offset, `page_concurrency` at a time, rather than by walking the `next` links one by
  one; a page must answer for the offset it was asked for.
- A report's definition may carry `columns`; when it does, they name the result columns.
- Status and results URLs must stay on the configured hosts: a `Location` elsewhere is
  refused, so the token never leaves Kissmetrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pendulum

from sources.common.errors import MalformedResponse
from sources.common.http import HttpPolicy, ScopedAuth, VendorHttp, describe_plain, origin_of
from sources.common.jobs import poll_until
from sources.common.paging import Page, pages_by_total
from sources.common.windows import Window

SOURCE = "kissmetrics"


@dataclass(frozen=True)
class KissmetricsConfig:
    api_token: str
    api_url: str
    query_url: str
    page_size: int
    page_concurrency: int
    job_timeout: float
    poll_interval: float
    http: HttpPolicy


def describe_error(response: httpx.Response) -> str:
    try:
        meta = response.json().get("meta", {})
        if isinstance(meta, dict) and meta.get("message"):
            return str(meta["message"])
    except (ValueError, AttributeError):
        pass
    return describe_plain(response)


def session(config: KissmetricsConfig) -> VendorHttp:
    """An HTTP session for one extract; the token goes to the two Kissmetrics hosts only."""
    hosts = [config.api_url, config.query_url]
    auth = ScopedAuth(
        [origin_of(h) for h in hosts], lambda: {"Authorization": f"Bearer {config.api_token}"}
    )
    return VendorHttp(
        SOURCE, base_urls=hosts, auth=auth, policy=config.http, describe_error=describe_error
    )


async def list_reports(http: VendorHttp, config: KissmetricsConfig) -> list[dict[str, Any]]:
    reports = await http.get_json(f"{config.api_url}/core/reports")
    if not isinstance(reports, list):
        raise MalformedResponse(
            "expected a list of reports", source=SOURCE, endpoint="GET /core/reports"
        )
    return reports


def run_url(report: dict[str, Any], config: KissmetricsConfig) -> str:
    for link in report.get("links") or []:
        if link.get("rel") == "run" and link.get("href"):
            return str(link["href"])
    return f"{config.query_url}/v2/products/{report['product_id']}/reports/{report['id']}/run"


async def run_report(
    http: VendorHttp, config: KissmetricsConfig, report: dict[str, Any], window: Window
) -> AsyncIterator[tuple[int, list[list[Any]]]]:
    """Run `report` over `window`; yield (offset, rows) for every page of its results."""
    now = pendulum.now(window.start.timezone).replace(microsecond=0)
    end = window.last_second if window.complete else now
    url = http.require_vendor_url(run_url(report, config), "the report's run link")
    started = await http.request(
        "POST",
        url,
        expect=(202,),
        json={"start_date": window.start.isoformat(), "end_date": end.isoformat()},
    )
    status_url = _location(http, started, "the run's status Location")
    what = f"report {report.get('name')!r} run {window.start.date()}..{window.end.date()}"

    async def finished() -> str | None:
        response = await http.request("GET", status_url, expect=(200, 201))
        if response.status_code == 201:
            return _location(http, response, "the status's results Location")
        return None

    results_url = await poll_until(
        finished, timeout=config.job_timeout, what=what, interval=config.poll_interval
    )
    async for page in _pages(http, config, results_url):
        yield page


async def _pages(
    http: VendorHttp, config: KissmetricsConfig, results_url: str
) -> AsyncIterator[tuple[int, list[list[Any]]]]:
    endpoint = f"GET {httpx.URL(results_url).path}"

    async def fetch(skip: int, take: int) -> Page:
        body = await http.get_json(results_url, params={"limit": take, "offset": skip})
        try:
            rows, pagination = body["data"], body["pagination"]
            offset, total = int(pagination["offset"]), int(pagination["total"])
            if not isinstance(rows, list):
                raise TypeError
        except (KeyError, TypeError, ValueError):
            raise MalformedResponse(
                "results page without data/pagination", source=SOURCE, endpoint=endpoint
            ) from None
        if offset != skip:
            raise MalformedResponse(
                f"asked for the results page at offset {skip}, got offset {offset}",
                source=SOURCE,
                endpoint=endpoint,
            )
        return Page(skip, rows, total)

    async for page in pages_by_total(
        fetch,
        page_size=config.page_size,
        concurrency=config.page_concurrency,
        what="report results",
        source=SOURCE,
        endpoint=endpoint,
    ):
        yield page.skip, page.items


def _location(http: VendorHttp, response: httpx.Response, what: str) -> str:
    location = response.headers.get("location")
    if not location:
        raise MalformedResponse(
            f"HTTP {response.status_code} without a Location header",
            source=SOURCE,
            endpoint=f"{response.request.method} {response.request.url.path}",
        )
    return http.require_vendor_url(str(response.url.join(location)), what)
