"""Quantive Results API calls (vendor-docs/quantive-kpis-api.txt).

Every request carries `Authorization: Bearer <access_token>` and `gtmhub-accountId`,
attached by a `ScopedAuth` only to the configured `base_url`'s origin. Paths hang off
`base_url` (`https://app.quantive.com/results/api`) with the version the doc gives each
endpoint: `GET /v2/kpis`, `GET /v1/kpis/{kpiId}`, `GET /v1/kpi-snapshots`,
`GET /v2/kpis/snapshots`, `GET /v1/kpis/{kpiId}/projections`,
`GET /v1/kpis/{kpiId}/statistics`, `GET /v1/insights/{id}/usages/kpis`. The assumptions
made where the doc is silent are listed in the package docstring
(sources/quantive/__init__.py)."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from datetime import date, timedelta
from typing import Any

import httpx

from sources.common.completeness import Tally, unreadable
from sources.common.errors import MalformedResponse, PipelineError, VendorError
from sources.common.http import (
    ScopedAuth,
    VendorHttp,
    describe_plain,
    origin_of,
    parse_json,
)
from sources.common.names import with_fields
from sources.common.paging import OffsetPaginator, Page
from sources.quantive.config import QuantiveConfig

log = logging.getLogger(__name__)

SOURCE = "quantive"
STATISTICS_KEYS = {"currentPeriod", "nextProjection", "previousPeriod"}
_NOTED: set[str] = set()
_PATH_ID = re.compile(r"/(kpis|insights)/[^/]+/")

# The response codes the doc lists for every endpoint, in words, with what to do.
STATUS_TEXT = {
    400: ("bad request", "a setting the API rejects: check kpi_ids, time_zone and group_by"),
    401: ("unauthorized", None),
    402: (
        "payment required",
        "the Quantive account's plan does not include this; check its subscription and billing",
    ),
    403: ("forbidden", None),
    404: ("not found", "check the configured ids"),
    500: ("internal server error", None),
}


def describe_error(response: httpx.Response) -> str:
    """`<status in words>: <the vendor's message>` (+ what to do) on one line."""
    message = None
    try:
        body = response.json()
        if isinstance(body, dict):
            for key in ("message", "error", "detail", "title"):
                if isinstance(body.get(key), str) and body[key].strip():
                    message = body[key]
                    break
    except ValueError:
        pass
    if message is None:
        message = describe_plain(response)
    words, hint = STATUS_TEXT.get(response.status_code, (response.reason_phrase.lower(), None))
    text = f"{words}: {message}" if message.lower() != words else words
    return f"{text} — {hint}" if hint else text


def session(config: QuantiveConfig) -> VendorHttp:
    """An HTTP session for one extract; the credentials go to `base_url`'s origin only."""
    auth = ScopedAuth(
        [origin_of(config.base_url)],
        lambda: {
            "Authorization": f"Bearer {config.access_token}",
            "gtmhub-accountId": config.account_id,
        },
    )
    return config.http_session([config.base_url], auth, describe_error)


def endpoint_of(config: QuantiveConfig, path: str) -> str:
    """`GET <path as the server sees it>`, for error lines."""
    return _endpoint(f"{config.base_url}{path}")


def _endpoint(url: str) -> str:
    return f"GET {httpx.URL(url).path}"


def unread(what: str, seen: Any, endpoint: str) -> MalformedResponse:
    """A body or record this source cannot read: `what` it needed and what came."""
    return unreadable(what, seen, source=SOURCE, endpoint=endpoint)


def note(message: str, *args: Any) -> None:
    """Log which form of an undocumented detail the vendor speaks, once per run (per
    endpoint, not per KPI: ids in paths count as `{id}`)."""
    text = message % tuple(_PATH_ID.sub(r"/\1/{id}/", a) if isinstance(a, str) else a for a in args)
    if text not in _NOTED:
        _NOTED.add(text)
        log.info(text)


def listed(body: Any, endpoint: str) -> tuple[list[Any], int | None] | None:
    """The items and total of a list answer, or None when `body` is not a list form.

    Forms: `{items, totalCount}` (documented), `{items, count}` where `count` is more
    than the page holds (then it can only be the total), and a bare array. `count` equal
    to the page's length, or no count at all, leaves the total unknown (None)."""
    if isinstance(body, list):
        note("quantive: %s answers a bare array", endpoint)
        return body, None
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return None
    items = body["items"]
    for key in ("totalCount", "count"):
        total = _count(body.get(key))
        if total is not None and (key == "totalCount" or total > len(items)):
            note("quantive: %s gives its total as %s", endpoint, key)
            return items, total
    note("quantive: %s gives no total (no totalCount, count is the page's length)", endpoint)
    return items, None


def _count(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
    return value if ok else None


def _page(body: Any, skip: int, endpoint: str) -> Page:
    """One page of a list of objects; `total` is None when the vendor does not give one."""
    found = listed(body, endpoint)
    if found is None:
        raise unread("expected a list answer {items, totalCount}", body, endpoint)
    items, total = found
    for item in items:
        if not isinstance(item, dict):
            raise unread("expected list items to be objects", item, endpoint)
    return Page(skip, items, total)


def paging(skip: int, take: int) -> dict[str, int]:
    """The doc names no paging parameters: `skip`/`take` and `offset`/`limit` both go,
    so a server that knows either pages; one that knows neither repeats its first page,
    which the paginator refuses."""
    return {"skip": skip, "take": take, "offset": skip, "limit": take}


def ids_of(endpoint: str) -> Callable[[list[Any]], list[str]]:
    """A page's identity for the paginator: its items' `id`s, which each must have."""

    def identity(items: list[Any]) -> list[str]:
        missing = next((item for item in items if not _has_id(item)), None)
        if missing is not None:
            raise unread("expected every item to have an id", missing, endpoint)
        return [str(item["id"]) for item in items]

    return identity


def _has_id(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("id"), str | int) and item["id"] != ""


async def paged(
    http: VendorHttp, config: QuantiveConfig, path: str, **params: Any
) -> AsyncIterator[list[dict[str, Any]]]:
    """Every page's items of a paged list (`/v2/kpis`, projections). With a total, the
    rest is fetched concurrently and counted against it; without one, page after page
    until an empty page. Repeated pages fail the list either way."""
    url = f"{config.base_url}{path}"
    endpoint = _endpoint(url)

    async def fetch(skip: int, take: int) -> Page:
        body = await http.get_json(url, params={**params, **paging(skip, take)})
        return _page(body, skip, endpoint)

    paginator = OffsetPaginator(
        fetch,
        page_size=config.page_size,
        concurrency=config.concurrency,
        what=path,
        source=SOURCE,
        endpoint=endpoint,
        identity=ids_of(endpoint),
    )
    async for page in paginator.pages():
        yield page.items


async def count_kpis(http: VendorHttp, config: QuantiveConfig) -> int | None:
    """The account's KPI count from the first page, or None when the list gives none."""
    url = f"{config.base_url}/v2/kpis"
    body = await http.get_json(url, params=paging(0, 1))
    return _page(body, 0, _endpoint(url)).total


async def get_kpi(http: VendorHttp, config: QuantiveConfig, kpi_id: str) -> dict[str, Any] | None:
    """One KPI by id; None when the account has no such KPI (404)."""
    url = f"{config.base_url}/v1/kpis/{kpi_id}"
    response = await http.request("GET", url, expect=(200, 404))
    if response.status_code == 404:
        return None
    body = parse_json(response, SOURCE)
    if not _has_id(body):
        raise unread("expected a KPI object with an id", body, _endpoint(url))
    return body


async def snapshots(
    http: VendorHttp,
    config: QuantiveConfig,
    path: str,
    select: dict[str, str],
    first: date,
    last: date,
    *,
    time_zone: str,
    group_by: str,
) -> Any:
    """The body a snapshot endpoint (`/v1/kpi-snapshots`, `/v2/kpis/snapshots`) answers
    for the KPIs `select` names (`ids`, a filter, or nothing: every KPI) from `first`
    to `last`.

    The doc shows no body (`sources/quantive/snapshots.py` reads every shape). `to` is
    asked one day past `last`: the doc's "snapshots that end on this date" may or may not
    include that day, so the caller trims what lies past `last`. A list answer whose
    total exceeds what came is paged to its end and returned as one array."""
    url = f"{config.base_url}{path}"
    endpoint = _endpoint(url)
    params = {
        **select,
        "from": first.isoformat(),
        "to": (last + timedelta(days=1)).isoformat(),
        "timeZone": time_zone,
        "groupBy": group_by,
    }
    body = await http.get_json(url, params=params)
    found = listed(body, endpoint)
    if found is None or found[1] is None or found[1] <= len(found[0]):
        return body
    items, total = found
    note("quantive: %s pages its records; reading every page", endpoint)

    async def fetch(skip: int, take: int) -> Page:
        answer = await http.get_json(url, params={**params, **paging(skip, take)})
        page = listed(answer, endpoint)
        if page is None:
            raise unread("expected the next page of snapshot records", answer, endpoint)
        return Page(skip, page[0], page[1] or 0)

    ids = select.get("ids")
    who = f"{ids.count(',') + 1} KPI(s)" if ids else "KPIs " + (_query(select) or "(all)")
    paginator = OffsetPaginator(
        fetch,
        page_size=len(items) or 1,
        concurrency=config.concurrency,
        what=f"snapshots of {who} {first}..{last}",
        source=SOURCE,
        endpoint=endpoint,
    )
    return [item async for page in paginator.pages(Page(0, items, total)) for item in page.items]


def _query(params: dict[str, str]) -> str:
    return "&".join(f"{key}={value}" for key, value in params.items())


async def statistics(
    http: VendorHttp, config: QuantiveConfig, kpi_id: str, period: str, time_zone: str
) -> dict[str, Any]:
    """`KpiStatisticsDto`: `{currentPeriod, nextProjection, previousPeriod}`; `{}` or
    null periods are a KPI without data, any other object is refused."""
    url = f"{config.base_url}/v1/kpis/{kpi_id}/statistics"
    body = await http.get_json(url, params={"type": period, "timeZone": time_zone})
    if not isinstance(body, dict) or (body and not STATISTICS_KEYS & body.keys()):
        raise unread(
            f"expected a KpiStatistics object with {', '.join(sorted(STATISTICS_KEYS))}",
            body,
            _endpoint(url),
        )
    return body


async def insight_kpis(
    http: VendorHttp, config: QuantiveConfig, insight_id: str
) -> list[dict[str, Any]]:
    """The KPIs an insight feeds, as rows with `insight_id` and the KPI's `kpi_id`.

    The doc shows no body: a list (or `{items, totalCount}`) of KPI objects (`id`), of
    usage records (`kpiId`) or of bare KPI ids are all read; anything else is refused."""
    url = f"{config.base_url}/v1/insights/{insight_id}/usages/kpis"
    endpoint = _endpoint(url)
    body = await http.get_json(url)
    found = listed(body, endpoint)
    if found is None:
        raise unread("expected a list of the KPIs the insight feeds", body, endpoint)
    items, total = found
    tally = Tally(f"insight {insight_id}", source=SOURCE, endpoint=endpoint)
    if total is not None:
        tally.declared(total)
    tally.received(len(items))
    used = [_usage(item, insight_id, endpoint) for item in items]
    tally.emitted(len(used))
    tally.settle()
    return used


def _usage(item: Any, insight_id: str, endpoint: str) -> dict[str, Any]:
    if isinstance(item, str) and item:
        note("quantive: %s lists bare KPI ids", endpoint)
        return {"insight_id": insight_id, "kpi_id": item}
    if isinstance(item, dict):
        for key in ("id", "kpiId"):
            if isinstance(item.get(key), str | int) and item[key] != "":
                note("quantive: %s names each KPI by %s", endpoint, key)
                return with_fields(item, {"insight_id": insight_id, "kpi_id": str(item[key])})
    raise unread("expected each used KPI to be an id or an object with id or kpiId", item, endpoint)


def payment_required(error: PipelineError) -> bool:
    """HTTP 402 is account-wide: every other KPI would fail the same way, so it stops
    the source with one line instead of one per part."""
    return isinstance(error, VendorError) and error.cause.startswith("HTTP 402")
