"""Datawiz API calls: the OAuth2 token, builder table pages, report widget data.

Protocol (vendor-docs/datawiz-api.md): `POST {token_url}` (password grant, form
encoded) gives `token_type`, `access_token`, `expires_in`, `refresh_token`; every API
call sends `Authorization: <token_type> <access_token>` and the numeric `client-id`
header (`account_id`). `POST {api_url}/api/builder/create-table/` answers
`{count, next, previous, results: {dataSource, columns}}`;
`POST {bi_url}/api/report/reports/<report>/widgets/<widget>/data/` answers widget data.

Assumptions where the doc is silent, kept here for the next engineer:
- The API is Django REST framework with django-oauth-toolkit: token errors are RFC 6749
  bodies (`invalid_client`, `invalid_grant`), API errors `{"detail": …}` or, for a
  rejected query (400), `{"<field>": ["message", …]}`; that message names an unknown
  metric, so a 400 from the builder is reported as a configuration error (exit 2).
- Builder paging is DRF's: `next` is an absolute URL with `page` (or `limit`/`offset`)
  in its query, to which the same body is POSTed; `count` counts rows. We ask for
  `page_size` rows per page; with `count` and the first page's length known, the
  remaining pages are generated and fetched concurrently, else `next` is followed.
- A report widget answers `{dataSource, columns}`, maybe inside `results` and maybe
  paged with `next` like the builder; a widget without `dataSource` (a chart) is not
  tabular and fails its table with a clear line.
- `expires_in` is seconds; the token is renewed 10% (at most 60 s) before it runs out."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from sources.common.errors import ConfigError, MalformedResponse, config_key_help
from sources.common.http import HttpPolicy, VendorHttp, describe_plain, origin_of, parse_json
from sources.common.jobs import fan_in
from sources.common.oauth import OAuth2Auth, PasswordGrant
from sources.common.stats import stats_for

SOURCE = "datawiz"
BUILDER_PATH = "/api/builder/create-table/"


@dataclass(frozen=True)
class DatawizConfig:
    grant: PasswordGrant
    account_id: str
    token_url: str
    api_url: str
    bi_url: str
    page_size: int
    page_concurrency: int
    http: HttpPolicy


@dataclass
class Page:
    rows: list[dict[str, Any]]
    columns: list[dict[str, Any]]


def describe_error(response: httpx.Response) -> str:
    """DRF error bodies on one line: `detail`, or `field: message; …` of a 400."""
    try:
        body = response.json()
    except ValueError:
        return describe_plain(response)
    if isinstance(body, dict):
        if body.get("detail"):
            return str(body["detail"])
        if body.get("error"):
            return " ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
        parts = []
        for key, value in body.items():
            messages = value if isinstance(value, list) else [value]
            parts.append(f"{key}: {' '.join(str(m) for m in messages)}")
        if parts:
            return "; ".join(parts)[:300]
    return describe_plain(response)


def session(config: DatawizConfig) -> VendorHttp:
    """An HTTP session for one extract; the token and client-id go to the two API hosts
    only (never to the token endpoint or anywhere else)."""
    stats = stats_for(SOURCE)
    auth = OAuth2Auth(
        config.grant,
        origins=[origin_of(config.api_url), origin_of(config.bi_url)],
        extra_headers={"client-id": config.account_id},
        on_token_request=lambda: stats.count("requests"),
    )
    return VendorHttp(
        SOURCE,
        base_urls=[config.api_url, config.bi_url],
        auth=auth,
        policy=config.http,
        describe_error=describe_error,
        stats=stats,
    )


async def _post_query(http: VendorHttp, url: str, body: dict[str, Any], what: str, **kw) -> Any:
    response = await http.request("POST", url, expect=(200, 400), json=body, **kw)
    if response.status_code == 400:
        setting = "reports" if what.startswith("report") else "tables"
        raise ConfigError(
            f"the API rejected the query of {what}: {describe_error(response)}",
            source=SOURCE,
            endpoint=f"POST {httpx.URL(url).path}",
            hint=config_key_help(SOURCE, setting),
        )
    return parse_json(response, SOURCE)


def _page(body: Any, endpoint: str, *, paged: bool) -> tuple[Page, int | None, str | None]:
    results = body.get("results", body) if isinstance(body, dict) else None
    rows = results.get("dataSource") if isinstance(results, dict) else None
    if not isinstance(rows, list):
        raise MalformedResponse(
            "answer without results.dataSource (a list of rows)"
            if paged
            else "widget answer without dataSource: only tabular widgets can be loaded",
            source=SOURCE,
            endpoint=endpoint,
        )
    columns = results.get("columns") or []
    count = body.get("count")
    next_url = body.get("next")
    return (
        Page(rows, columns if isinstance(columns, list) else []),
        int(count) if isinstance(count, int) else None,
        str(next_url) if next_url else None,
    )


async def builder_pages(
    http: VendorHttp, config: DatawizConfig, body: dict[str, Any], what: str
) -> AsyncIterator[Page]:
    """Every page of one builder query; pages after the first come concurrently when
    their URLs can be derived from `count`, in whatever order they arrive."""
    url = f"{config.api_url}{BUILDER_PATH}"
    endpoint = f"POST {BUILDER_PATH}"
    first = await _post_query(http, url, body, what, params={"page_size": config.page_size})
    page, count, next_url = _page(first, endpoint, paged=True)
    yield page
    if not next_url:
        return
    planned = page_urls(next_url, count, len(page.rows))
    if planned is None:
        async for later in _follow(http, next_url, body, what, endpoint):
            yield later
        return

    async def fetch(page_url: str) -> AsyncIterator[Page]:
        answer = await _post_query(http, page_url, body, what)
        later = _page(answer, endpoint, paged=True)[0]
        if not later.rows:  # every planned page lies inside `count`: a gap, never skip it
            raise MalformedResponse(
                f"{what}: empty page {httpx.URL(page_url).params} of {count} rows",
                source=SOURCE,
                endpoint=endpoint,
                hint="the result changed while paging; rerun",
            )
        yield later

    urls = [http.require_vendor_url(u, "the builder's next link") for u in planned]
    async for outcome in fan_in(urls, fetch, concurrency=config.page_concurrency):
        if outcome.error is not None:
            raise outcome.error
        if outcome.item is not None:
            yield outcome.item


async def _follow(
    http: VendorHttp, next_url: str | None, body: dict[str, Any], what: str, endpoint: str
) -> AsyncIterator[Page]:
    while next_url:
        url = http.require_vendor_url(next_url, "the next link")
        page, _, next_url = _page(await _post_query(http, url, body, what), endpoint, paged=True)
        yield page


def page_urls(next_url: str, count: int | None, page_rows: int) -> list[str] | None:
    """The URLs of every page after the first, from the first `next` link, or None when
    the scheme is not one we can extrapolate (cursor pagination, unknown count)."""
    if count is None or page_rows <= 0:
        return None
    url = httpx.URL(next_url)
    params = url.params
    if "page" in params:
        try:
            second = int(params["page"])
        except ValueError:
            return None
        pages = -(-count // page_rows)
        return [str(url.copy_set_param("page", n)) for n in range(second, pages + 1)]
    if "offset" in params:
        try:
            offset = int(params["offset"])
        except ValueError:
            return None
        return [str(url.copy_set_param("offset", o)) for o in range(offset, count, page_rows)]
    return None


async def widget_pages(
    http: VendorHttp, config: DatawizConfig, report: str, widget: str, body: dict, what: str
) -> AsyncIterator[Page]:
    path = f"/api/report/reports/{report}/widgets/{widget}/data/"
    endpoint = f"POST {path}"
    answer = await _post_query(http, f"{config.bi_url}{path}", body, what)
    page, _, next_url = _page(answer, endpoint, paged=False)
    yield page
    async for later in _follow(http, next_url, body, what, endpoint):
        yield later


async def probe(config: DatawizConfig, day: date) -> int:
    """One token grant and one cheap builder call (a day's turnover, no grouping): the
    number of rows it counts."""
    body = {
        "date_range": {
            "selected": "date",
            "date_from": day.isoformat(),
            "date_to": day.isoformat(),
        },
        "aggregate": [{"metric": "turnover"}],
        "group_by": [],
        "filters": [],
        "options": {"use_cache": True, "fixed_total": True},
    }
    async with session(config) as http:
        url = f"{config.api_url}{BUILDER_PATH}"
        answer = await _post_query(http, url, body, "the check query", params={"page_size": 1})
        page, count, _ = _page(answer, f"POST {BUILDER_PATH}", paged=True)
        return count if count is not None else len(page.rows)
