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
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx

from sources.common.completeness import fingerprint, unreadable
from sources.common.errors import ConfigError, VendorError, config_key_help
from sources.common.http import VendorHttp, describe_plain, origin_of, parse_json
from sources.common.oauth import OAuth2Auth
from sources.common.paging import CursorPaginator, Followed, OffsetPaginator, Page
from sources.common.stats import stats_for
from sources.datawiz import payloads
from sources.datawiz.config import DatawizConfig

log = logging.getLogger("sources.datawiz")
SOURCE = "datawiz"
BUILDER_PATH = "/api/builder/create-table/"
BUILDER_ENDPOINT = f"POST {BUILDER_PATH}"


@dataclass(frozen=True)
class TablePage(Page):
    """One answer of rows: `total` is the vendor's `count` of the whole list (first page
    only, None without one); `rows` and `count` are the builder's names for them."""

    columns: list[dict[str, Any]] = field(default_factory=list)

    @property
    def rows(self) -> list[dict[str, Any]]:
        return self.items

    @property
    def count(self) -> int | None:
        return self.total


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
    return config.http_session([config.api_url, config.bi_url], auth, describe_error, stats=stats)


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


def _page(body: Any, endpoint: str, skip: int = 0) -> tuple[TablePage, str | None]:
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
    total = _count(count, body, endpoint) if skip == 0 else None
    page = TablePage(skip, rows, total, columns if isinstance(columns, list) else [])
    return page, str(next_url) if next_url else None


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
) -> AsyncIterator[TablePage]:
    """Every page of one builder query; pages after the first come concurrently when
    their URLs can be derived from `count`, in whatever order they arrive."""
    first = await _first_builder_page(http, config, body, what, config.page_size)
    page, next_url = _page(first, BUILDER_ENDPOINT)
    url_at = page_url(next_url, page.count, len(page.rows)) if next_url else None
    if url_at is None:
        async for later in _follow(http, page, next_url, body, what, BUILDER_ENDPOINT):
            yield later
        return

    async def fetch(skip: int, take: int) -> TablePage:
        url = http.require_vendor_url(url_at(skip), "the builder's next link")
        return _page(await _post_query(http, url, body, what), BUILDER_ENDPOINT, skip)[0]

    paginator = OffsetPaginator(
        fetch,
        page_size=len(page.rows),
        concurrency=config.page_concurrency,
        what=what,
        source=SOURCE,
        endpoint=BUILDER_ENDPOINT,
        identity=identity,
    )
    async for later in paginator.pages(page):
        yield later


async def _follow(
    http: VendorHttp,
    first: TablePage,
    next_url: str | None,
    body: dict[str, Any],
    what: str,
    endpoint: str,
) -> AsyncIterator[TablePage]:
    """`first`, then the `next` links one by one; a link or a page seen before is a
    paginator making no progress: an error, never a loop or a silent de-duplication."""

    async def fetch(url: str) -> Followed:
        url = http.require_vendor_url(url, "the next link")
        answer = await _post_query(http, url, body, what)
        page, later = _page(answer, endpoint, skip=-1)  # a followed page: position unknown
        return Followed(page.items, later, page)

    paginator = CursorPaginator(
        fetch, what=what, source=SOURCE, endpoint=endpoint, identity=identity, kind="next link"
    )
    async for page in paginator.pages(Followed(first.items, next_url, first)):
        yield page.body


def identity(rows: list[dict[str, Any]]) -> list[Hashable]:
    """A page by its first and last rows (whole: a key need not be unique within a query
    when it names no day): a page that comes again is a paginator stuck."""
    return [fingerprint(rows[:1] + rows[-1:])]


def page_url(next_url: str, count: int | None, page_rows: int) -> Callable[[int], str] | None:
    """The URL of the page at row `skip`, from the first `next` link; None when the scheme
    is not one we can extrapolate (cursor pagination, unknown count)."""
    if count is None or page_rows <= 0:
        return None
    url = httpx.URL(next_url)
    for name in ("page", "offset"):
        try:
            second = int(url.params[name])
        except (KeyError, ValueError):
            continue
        if name == "page":
            return lambda skip: str(url.copy_set_param("page", second + skip // page_rows - 1))
        return lambda skip: str(url.copy_set_param("offset", second + skip - page_rows))
    return None


async def widget_pages(
    http: VendorHttp,
    config: DatawizConfig,
    report: str,
    widget: str,
    body: dict,
    what: str,
    kind: str = payloads.TABLE,
) -> AsyncIterator[TablePage]:
    """A table widget's pages; any other widget's one answer in long form (payloads.py)."""
    path = f"/api/report/reports/{report}/widgets/{widget}/data/"
    endpoint = f"POST {path}"
    answer = await _post_query(http, f"{config.bi_url}{path}", body, what)
    if kind != payloads.TABLE:
        yield TablePage(0, payloads.read(answer, kind, endpoint), None, payloads.columns(kind))
        return
    page, next_url = _page(answer, endpoint)
    async for later in _follow(http, page, next_url, body, what, endpoint):
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
