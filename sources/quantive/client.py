"""Quantive Results API calls (vendor-docs/quantive-kpis-api.txt).

Every request carries `Authorization: Bearer <access_token>` and `gtmhub-accountId`,
attached by a `ScopedAuth` only to the configured `base_url`'s origin. Paths hang off
`base_url` (`https://app.quantive.com/results/api`) with the version the doc gives each
endpoint: `GET /v2/kpis`, `GET /v1/kpis/{kpiId}`, `GET /v1/kpi-snapshots`,
`GET /v1/kpis/{kpiId}/projections`, `GET /v1/kpis/{kpiId}/statistics`,
`GET /v1/insights/{id}/usages/kpis`. The assumptions made where the doc is silent are
listed in the package docstring (sources/quantive/__init__.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from sources.common.errors import MalformedResponse
from sources.common.http import (
    HttpPolicy,
    ScopedAuth,
    VendorHttp,
    describe_plain,
    origin_of,
    parse_json,
)
from sources.common.paging import Page, pages_by_total

SOURCE = "quantive"
DEFAULT_BASE_URL = "https://app.quantive.com/results/api"

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


@dataclass(frozen=True)
class QuantiveConfig:
    access_token: str
    account_id: str
    base_url: str
    page_size: int
    concurrency: int
    http: HttpPolicy


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
    return VendorHttp(
        SOURCE,
        base_urls=[config.base_url],
        auth=auth,
        policy=config.http,
        describe_error=describe_error,
    )


def _malformed(what: str, endpoint: str) -> MalformedResponse:
    return MalformedResponse(
        what,
        source=SOURCE,
        endpoint=endpoint,
        hint="the response does not match the documented shape; rerun, or report it",
    )


def _page(body: Any, skip: int, endpoint: str) -> Page:
    """`{items, totalCount}` (the doc's `kpisWithTotalCount` / `KpiProjectionsResponse`)."""
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        items = [item for item in body["items"] if isinstance(item, dict)]
        total = body.get("totalCount")
        if isinstance(total, int) and not isinstance(total, bool):
            return Page(skip, items, max(total, skip + len(items)))
        return Page(skip, items, skip + len(items))  # no total: everything came at once
    raise _malformed("expected an object with items and totalCount", endpoint)


async def paged(
    http: VendorHttp, config: QuantiveConfig, path: str, **params: Any
) -> AsyncIterator[Page]:
    """Every page of a `{items, totalCount}` list, paged with `skip`/`take`."""
    url = f"{config.base_url}{path}"

    async def fetch(skip: int, take: int) -> Page:
        body = await http.get_json(url, params={**params, "skip": skip, "take": take})
        return _page(body, skip, f"GET {httpx.URL(url).path}")

    async for page in pages_by_total(
        fetch,
        page_size=config.page_size,
        concurrency=config.concurrency,
        what=path,
        source=SOURCE,
        endpoint=f"GET {httpx.URL(url).path}",
    ):
        yield page


async def count_kpis(http: VendorHttp, config: QuantiveConfig) -> int:
    url = f"{config.base_url}/v2/kpis"
    body = await http.get_json(url, params={"skip": 0, "take": 1})
    return _page(body, 0, f"GET {httpx.URL(url).path}").total


async def get_kpi(http: VendorHttp, config: QuantiveConfig, kpi_id: str) -> dict[str, Any] | None:
    """One KPI by id; None when the account has no such KPI (404)."""
    url = f"{config.base_url}/v1/kpis/{kpi_id}"
    response = await http.request("GET", url, expect=(200, 404))
    if response.status_code == 404:
        return None
    body = parse_json(response, SOURCE)
    if not isinstance(body, dict) or "id" not in body:
        raise _malformed("expected a KPI object with an id", f"GET {httpx.URL(url).path}")
    return body


async def snapshots(
    http: VendorHttp,
    config: QuantiveConfig,
    kpi_ids: Sequence[str],
    first: date,
    last: date,
    *,
    time_zone: str,
    group_by: str,
) -> dict[str, list[dict[str, Any]]]:
    """Snapshot groups of `kpi_ids` from `first` to `last` (both inclusive), by KPI id."""
    url = f"{config.base_url}/v1/kpi-snapshots"
    params = {
        "ids": ",".join(kpi_ids),
        "from": first.isoformat(),
        "to": last.isoformat(),
        "timeZone": time_zone,
        "groupBy": group_by,
    }
    body = await http.get_json(url, params=params)
    return snapshot_groups(body, f"GET {httpx.URL(url).path}")


def snapshot_groups(body: Any, endpoint: str) -> dict[str, list[dict[str, Any]]]:
    """Accepts the shape `kpiSnapshotGroupsByKpi` names — an object keyed by KPI id —
    and the list form `{items: [{kpiId, snapshots}]}` the v2 lists use."""
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        grouped: dict[str, list[dict[str, Any]]] = {}
        for entry in body["items"]:
            if not isinstance(entry, dict) or "kpiId" not in entry:
                raise _malformed("snapshot items need kpiId", endpoint)
            groups = entry.get("snapshots", entry.get("groups")) or []
            grouped.setdefault(str(entry["kpiId"]), []).extend(groups)
        body = grouped
    if not isinstance(body, dict) or not all(isinstance(v, list) for v in body.values()):
        raise _malformed("expected snapshot groups keyed by KPI id", endpoint)
    return body


async def statistics(
    http: VendorHttp, config: QuantiveConfig, kpi_id: str, period: str, time_zone: str
) -> dict[str, Any]:
    url = f"{config.base_url}/v1/kpis/{kpi_id}/statistics"
    body = await http.get_json(url, params={"type": period, "timeZone": time_zone})
    if not isinstance(body, dict):
        raise _malformed("expected a KpiStatistics object", f"GET {httpx.URL(url).path}")
    return body


async def insight_kpis(
    http: VendorHttp, config: QuantiveConfig, insight_id: str
) -> list[dict[str, Any]]:
    """The KPIs an insight feeds; a bare list or `{items}` (the doc shows no body)."""
    url = f"{config.base_url}/v1/insights/{insight_id}/usages/kpis"
    body = await http.get_json(url)
    if isinstance(body, dict) and isinstance(body.get("items"), list):
        body = body["items"]
    if not isinstance(body, list):
        raise _malformed("expected a list of KPIs", f"GET {httpx.URL(url).path}")
    return [item for item in body if isinstance(item, dict)]
