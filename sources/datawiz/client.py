"""Datawiz API calls: the OAuth2 token, builder table pages, report widget data.

Protocol (vendor-docs/datawiz-api.md): `POST {token_url}` (password grant, form
encoded) gives `token_type`, `access_token`, `expires_in`, `refresh_token`; every API
call sends `Authorization: <token_type> <access_token>` and the numeric `client-id`
header (`account_id`). `POST .../api/builder/create-table/` answers
`{count, next, previous, results: {dataSource, columns}}`;
`POST {bi_url}/api/report/reports/<report>/widgets/<widget>/data/` answers widget data.

Assumptions where the doc is silent or contradicts itself, kept here for the next
engineer (docs/vendor-assumptions.md has the doc lines):
- The builder's host: the doc's "HTTP Request" names `api-new.datawiz.io` (line 75),
  every example POSTs to `bi-new.datawiz.io` (lines 211, 370, 486). The builder is asked
  at `api_url` first; a 404 there sends it to `bi_url` once, and the host that answered
  is kept for the rest of the run (`BuilderHost`, logged). Credentials go to these two
  configured hosts only.
- The API is Django REST framework with django-oauth-toolkit: token errors are RFC 6749
  bodies (`invalid_client`, `invalid_grant`), API errors `{"detail": …}` or, for a
  rejected query (400), `{"<field>": ["message", …]}`; that message names an unknown
  metric, so a 400 from the builder is reported as a configuration error (exit 2).
- Builder paging is DRF's, in any of its schemes: `next` is an absolute URL with
  `page`, `limit`/`offset` or an opaque `cursor` in its query, to which the same body is
  POSTed; `count` (root rows) may be missing. We ask for `page_size` rows per page (as
  `page_size` and `limit`); with `count` and the first page's length known, the
  remaining page/offset URLs are generated and fetched concurrently, else `next` is
  followed. A `next` link or a page that repeats an earlier one is an error.
- A table widget's (or the builder's) answer is `{dataSource, columns}`, maybe inside
  DRF's `results` (a dict, or the rows as a list) and maybe paged with `next` like the
  builder; any other widget's answer is read by payloads.py.
- `expires_in` is seconds (renewed 10% (at most 60 s) before it runs out; without it
  the token lives until a 401); `token_type` is used in any casing (sources/common/oauth)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Hashable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from sources.common.completeness import RepeatGuard, fingerprint, unreadable
from sources.common.errors import ConfigError, MalformedResponse, VendorError, config_key_help
from sources.common.http import VendorHttp, describe_plain, origin_of, parse_json
from sources.common.jobs import fan_in
from sources.common.oauth import OAuth2Auth
from sources.common.stats import stats_for
from sources.datawiz import payloads
from sources.datawiz.config import DatawizConfig

log = logging.getLogger("sources.datawiz")
SOURCE = "datawiz"
BUILDER_PATH = "/api/builder/create-table/"
BUILDER_ENDPOINT = f"POST {BUILDER_PATH}"


@dataclass
class Page:
    rows: list[dict[str, Any]]
    columns: list[dict[str, Any]]
    count: int | None = None  # the vendor's `count` of the whole list (first page only)


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
    response = await _post(http, url, body, what, (200, 400), **kw)
    return parse_json(response, SOURCE)


async def _post(
    http: VendorHttp, url: str, body: dict[str, Any], what: str, expect: tuple[int, ...], **kw
) -> httpx.Response:
    response = await http.request("POST", url, expect=expect, json=body, **kw)
    if response.status_code == 400:
        setting = "reports" if what.startswith("report") else "tables"
        raise ConfigError(
            f"the API rejected the query of {what}: {describe_error(response)}",
            source=SOURCE,
            endpoint=f"POST {httpx.URL(url).path}",
            hint=config_key_help(SOURCE, setting),
        )
    return response


def _page(body: Any, endpoint: str) -> tuple[Page, str | None]:
    """One answer → its rows, columns, `count` and `next`, in any of the shapes the doc
    allows: `{dataSource, columns}`, that inside `results`, or DRF's `results` list."""
    results = body.get("results", body) if isinstance(body, dict) else body
    if isinstance(results, dict):
        rows, columns = results.get("dataSource"), results.get("columns")
    else:
        rows, columns = results, body.get("columns") if isinstance(body, dict) else None
    if isinstance(rows, list):
        # every row: a null row would load as all-null, a list row cannot be read
        bad = next((i for i, row in enumerate(rows) if not isinstance(row, dict)), None)
        if bad is not None:
            raise unreadable(
                f"row {bad + 1} of {len(rows)} is not an object",
                rows[bad],
                source=SOURCE,
                endpoint=endpoint,
            )
    else:
        raise unreadable(
            "an answer without rows (dataSource or results, a list of objects)",
            body,
            source=SOURCE,
            endpoint=endpoint,
        )
    meta = body if isinstance(body, dict) else {}
    count, next_url = meta.get("count"), meta.get("next")
    return (
        Page(
            rows,
            columns if isinstance(columns, list) else [],
            _count(count, body, endpoint),
        ),
        str(next_url) if next_url else None,
    )


def _count(value: Any, body: Any, endpoint: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise unreadable(
            "a count that is no number", body, source=SOURCE, endpoint=endpoint
        ) from None


async def _first_builder_page(
    http: VendorHttp, config: DatawizConfig, body: dict[str, Any], what: str, page_size: int
) -> Any:
    """The first page, from the host that serves the builder (see `BuilderHost`)."""
    params = {"page_size": page_size, "limit": page_size}
    tried = []
    for base in config.builder.candidates(config.api_url, config.bi_url):
        response = await _post(
            http, f"{base}{BUILDER_PATH}", body, what, (200, 400, 404), params=params
        )
        if response.status_code == 200:
            config.builder.found(base, config.api_url)
            return parse_json(response, SOURCE)
        tried.append(httpx.URL(base).host)
    raise VendorError(
        f"HTTP 404 from the builder at {' and '.join(tried)}",
        source=SOURCE,
        endpoint=BUILDER_ENDPOINT,
        hint="check api_url and bi_url",
    )


async def builder_pages(
    http: VendorHttp, config: DatawizConfig, body: dict[str, Any], what: str
) -> AsyncIterator[Page]:
    """Every page of one builder query; pages after the first come concurrently when
    their URLs can be derived from `count`, in whatever order they arrive."""
    first = await _first_builder_page(http, config, body, what, config.page_size)
    page, next_url = _page(first, BUILDER_ENDPOINT)
    guard = RepeatGuard("the builder's pages", source=SOURCE, endpoint=BUILDER_ENDPOINT)
    guard.seen("page 1", [identity(page.rows)])
    yield page
    if not next_url:
        return
    planned = page_urls(next_url, page.count, len(page.rows))
    if planned is None:
        async for later in _follow(http, next_url, body, what, BUILDER_ENDPOINT, guard):
            yield later
        return

    async def fetch(page_url: str) -> AsyncIterator[Page]:
        answer = await _post_query(http, page_url, body, what)
        later = _page(answer, BUILDER_ENDPOINT)[0]
        if not later.rows:  # every planned page lies inside `count`: a gap, never skip it
            raise MalformedResponse(
                f"{what}: empty page {httpx.URL(page_url).params} of {page.count} rows",
                source=SOURCE,
                endpoint=BUILDER_ENDPOINT,
                hint="the result changed while paging; rerun",
            )
        guard.seen(str(httpx.URL(page_url).params), [identity(later.rows)])
        yield Page(later.rows, later.columns)

    urls = [http.require_vendor_url(u, "the builder's next link") for u in planned]
    async for outcome in fan_in(urls, fetch, concurrency=config.page_concurrency):
        if outcome.error is not None:
            raise outcome.error
        if outcome.item is not None:
            yield outcome.item


async def _follow(
    http: VendorHttp,
    next_url: str | None,
    body: dict[str, Any],
    what: str,
    endpoint: str,
    guard: RepeatGuard,
) -> AsyncIterator[Page]:
    """Follow `next` links one by one; a link or a page seen before is a paginator
    making no progress: an error, never a loop or a silent de-duplication."""
    links = RepeatGuard("the next links", source=SOURCE, endpoint=endpoint)
    step = 1
    while next_url:
        url = http.require_vendor_url(next_url, "the next link")
        step += 1
        links.seen(f"page {step}", [url])
        page, next_url = _page(await _post_query(http, url, body, what), endpoint)
        guard.seen(f"page {step}", [identity(page.rows)])
        yield Page(page.rows, page.columns)


def identity(rows: list[dict[str, Any]]) -> Hashable:
    """A page by its first and last rows (whole: a key need not be unique within a query
    when it names no day): a page that comes again is a paginator stuck."""
    return fingerprint(rows[:1] + rows[-1:])


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
    http: VendorHttp,
    config: DatawizConfig,
    report: str,
    widget: str,
    body: dict,
    what: str,
    kind: str = payloads.TABLE,
) -> AsyncIterator[Page]:
    """A table widget's pages; any other widget's one answer in long form (payloads.py)."""
    path = f"/api/report/reports/{report}/widgets/{widget}/data/"
    endpoint = f"POST {path}"
    answer = await _post_query(http, f"{config.bi_url}{path}", body, what)
    if kind != payloads.TABLE:
        yield Page(payloads.read(answer, kind, endpoint), payloads.columns(kind))
        return
    page, next_url = _page(answer, endpoint)
    guard = RepeatGuard("the widget's pages", source=SOURCE, endpoint=endpoint)
    guard.seen("page 1", [identity(page.rows)])
    yield page
    async for later in _follow(http, next_url, body, what, endpoint, guard):
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
        answer = await _first_builder_page(http, config, body, "the check query", 1)
        page = _page(answer, BUILDER_ENDPOINT)[0]
        return page.count if page.count is not None else len(page.rows)
