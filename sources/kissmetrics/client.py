"""Kissmetrics API calls: list reports, run a report over a window, page its results.

Protocol (vendor-docs/kissmetrics-api.md): `GET {api_url}/core/reports` (HAL links);
`POST` the report's `run` link with `start_date`/`end_date` → 202 + `Location` (status);
status answers 200 `{completed: false, progress}` until done, then 201 + `Location`
(results); results pages carry `data` (positional arrays), `pagination` and links.

The doc is thin and contradicts itself in places; each open detail is read in every
plausible form (docs/sources/kissmetrics.md lists them with the doc lines), and the form
the vendor speaks is logged once per session (`Client.note`):
- Run dates: the prose says Unix seconds, the example sends ISO-8601 with the zone's
  offset (and an inclusive end one second before the next window, which we keep). We send
  the form that worked last (resource state), else the example's; a 400/422 makes us try
  the other form (`RunDates`).
- The run link: the list example's `run` link (api host, `/query/reports/<id>/run`) or the
  run example's query-host path; without a link we build the latter from `product_id`.
- The run answer: a `Location` header, else the body's `query-status` link. Completion:
  HTTP 201 or `data.completed: true`; the results URL is the `Location` header, else the
  body's `query-results` link.
- The reports list: a bare array (doc), or `{data: [...]}` like every other answer, paged
  by `limit`/`offset` when it carries `pagination`. Links in any HAL form (`hal`).
- Results rows: positional arrays (doc) or objects; `pagination` may be missing (then we
  walk by offset until a short page) and the host may page by its own size.
- Error bodies are `{"meta": {"status", "message"}}`; we show `message` when present.

Never a silent loss: every window counts the rows the host announced (`pagination.total`),
sent and we turned into tables (`Tally`); a page that repeats another, an offset the host
did not honour, an empty page inside the total or a last full page followed by more rows
fail the window. Status and results URLs must stay on the configured hosts: a link
elsewhere is refused, so the token never leaves Kissmetrics."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pendulum
import pyarrow as pa

from sources.common.arrow import positional_rows_to_table
from sources.common.completeness import Tally, unreadable
from sources.common.errors import JobTimeout, MalformedResponse, VendorError
from sources.common.http import (
    ScopedAuth,
    VendorHttp,
    describe_plain,
    endpoint_of,
    origin_of,
    parse_json,
)
from sources.common.jobs import poll_until
from sources.common.paging import OffsetPaginator, Page
from sources.common.records import records_to_table
from sources.common.windows import Window
from sources.kissmetrics.config import KissmetricsConfig
from sources.kissmetrics.dates import RunDates
from sources.kissmetrics.hal import link_href, related_id

SOURCE = "kissmetrics"
# the columns the source adds to every result row; a vendor column of the same name is
# kept as `<name>__vendor` (sources/common/names.py)
ADDED_COLUMNS = ("_window_start", "_window_end", "_row_number")
RUN_STARTED = (200, 201, 202)
DATES_REFUSED = (400, 422)

log = logging.getLogger(__package__)


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
    return config.http_session(hosts, auth, describe_error)


class Client:
    """The Kissmetrics calls of one extract over one HTTP session. It remembers, for the
    session, which form of each open detail the vendor speaks (logged once each), how the
    query host takes dates, and which reports have a query that never completed."""

    def __init__(self, http: VendorHttp, config: KissmetricsConfig, run_dates: str | None = None):
        self.http = http
        self.config = config
        self.dates = RunDates(run_dates)
        self._stuck: dict[str, Window] = {}
        # (report id, window start) → the finished run's links and rows (`report_runs`)
        self.runs: dict[tuple[str, Any], dict[str, Any]] = {}
        self._noted: set[tuple[str, str]] = set()

    def note(self, detail: str, form: str) -> None:
        """Log once per session which form of an open detail the vendor answered in."""
        if (detail, form) not in self._noted:
            self._noted.add((detail, form))
            log.info("%s: %s: %s", SOURCE, detail, form)

    # -- reports -------------------------------------------------------------------

    async def list_reports(self) -> list[dict[str, Any]]:
        url = f"{self.config.api_url}/core/reports"
        endpoint = "GET /core/reports"

        async def fetch(skip: int, take: int) -> Page:
            body = await self.http.get_json(url, params={"limit": take, "offset": skip})
            return self._reports_page(body, skip, endpoint)

        paginator = OffsetPaginator(
            fetch,
            page_size=self.config.page_size,
            concurrency=self.config.page_concurrency,
            what="reports list",
            source=SOURCE,
            endpoint=endpoint,
            identity=lambda items: [str(r["id"]) for r in items],
        )
        return [report async for page in paginator.pages() for report in page.items]

    def _reports_page(self, body: Any, skip: int, endpoint: str) -> Page:
        if isinstance(body, list):
            self.note("reports list", "a bare array")
            reports, total = body, len(body)
        elif isinstance(body, dict) and isinstance(body.get("data"), list):
            reports = body["data"]
            total = _paged_total(body.get("pagination"), skip, endpoint)
            self.note("reports list", "wrapped in `data`" + (", paged" if total else ""))
            total = len(reports) if total is None else total
        else:
            raise unreadable(
                "the reports list as an array or as {data: [...]}",
                body,
                source=SOURCE,
                endpoint=endpoint,
            )
        for report in reports:
            if not isinstance(report, dict) or report.get("id") in (None, ""):
                raise unreadable("a report with an `id`", report, source=SOURCE, endpoint=endpoint)
        return Page(skip, reports, total)

    def run_url(self, report: dict[str, Any]) -> str:
        href = link_href(report, "run")
        if href:
            where = httpx.URL(href)
            path = where.path.replace(str(report["id"]), "…")
            self.note("run link", f"the reports list's `run` link ({where.host} {path})")
            return href
        product = related_id(report, "product")
        if not product:
            raise unreadable(
                "a report with a `run` link or a product",
                report,
                source=SOURCE,
                endpoint="GET /core/reports",
            )
        self.note("run link", "none listed; the query host's /v2/products/…/reports/…/run")
        return f"{self.config.query_url}/v2/products/{product}/reports/{report['id']}/run"

    # -- one report over one window -------------------------------------------------

    async def run_report(
        self, report: dict[str, Any], window: Window, names: list[str]
    ) -> AsyncIterator[tuple[int, pa.Table]]:
        """Run `report` over `window`; yield (offset, table) for every page of its results,
        its positional columns called `names` (rows that come as objects name themselves)."""
        self._unless_stuck(report, window)
        now = pendulum.now(window.start.timezone).replace(microsecond=0)
        end = window.last_second if window.complete else now
        url = self.http.require_vendor_url(self.run_url(report), "the report's run link")
        started = await self._start(url, window.start, end)
        status_url = self._follow(started, "query-status", "the run's status link")

        async def finished() -> str | None:
            self._unless_stuck(report, window)
            return await self._results_url(status_url)

        try:
            results_url = await poll_until(
                finished,
                timeout=self.config.job_timeout,
                what="the report's query",
                interval=self.config.poll_interval,
            )
        except JobTimeout as timeout:
            stuck = self._stuck.get(report["id"])
            if stuck is None or window.start < stuck.start:
                self._stuck[report["id"]] = window
            timeout.endpoint = timeout.endpoint or endpoint_of("GET", status_url)
            raise
        endpoint = endpoint_of("GET", results_url)
        tally = Tally("report results", source=SOURCE, endpoint=endpoint)
        export = None
        async for page in self._pages(results_url, endpoint):
            if page.skip == 0:
                export = page.export
                if page.total is not None:
                    tally.declared(page.total)
            tally.received(len(page.items))
            table = self._table(page.items, names)
            tally.emitted(table.num_rows)
            yield page.skip, table
        tally.settle()
        run = {"results_url": results_url, "export_url": export, "rows": tally.sent}
        self.runs[(report["id"], window.start)] = run

    def _unless_stuck(self, report: dict[str, Any], window: Window) -> None:
        """A report whose query for an earlier window never completed: the later windows
        could not move its cursor this run anyway, so they stop now instead of each
        waiting out `job_timeout` (the earlier ones go on; they can still move it)."""
        stuck = self._stuck.get(report["id"])
        if stuck is not None and stuck.start < window.start:
            raise JobTimeout(
                f"not run: the query for {stuck.start.date()}..{stuck.end.date()} "
                "did not finish within job_timeout",
                source=SOURCE,
            )

    async def _start(
        self, url: str, start: pendulum.DateTime, end: pendulum.DateTime
    ) -> httpx.Response:
        """POST the run, in the date form the host takes (`RunDates`)."""
        refusals: list[str] = []
        first = self.dates.form
        for form in (first, RunDates.other(first)):
            response = await self.http.request(
                "POST",
                url,
                expect=(*RUN_STARTED, *DATES_REFUSED),
                json=RunDates.body(form, start, end),
            )
            if response.status_code not in DATES_REFUSED:
                self.dates.worked(form)
                return response
            why = f"HTTP {response.status_code}: {describe_error(response)}"
            refusals.append(f"as {RunDates.LABELS[form]} ({why})")
            self.dates.refused(form, why)
        raise VendorError(
            f"the query host refused the run's dates {' and '.join(refusals)}",
            source=SOURCE,
            endpoint=endpoint_of("POST", url),
        )

    async def _results_url(self, status_url: str) -> str | None:
        """The results URL once the query is done (HTTP 201 or `data.completed`), else None."""
        response = await self.http.request("GET", status_url, expect=(200, 201, 202))
        if response.status_code == 201:
            self.note("query completed", "HTTP 201")
            return self._follow(response, "query-results", "the status's results link")
        body = parse_json(response, SOURCE)
        data = body.get("data") if isinstance(body, dict) else None
        completed = data.get("completed") if isinstance(data, dict) else None
        if not isinstance(completed, bool):
            raise unreadable(
                "a query status with `data.completed` true or false",
                body,
                source=SOURCE,
                endpoint=endpoint_of("GET", status_url),
            )
        if not completed:
            return None
        self.note("query completed", f"HTTP {response.status_code} with data.completed")
        return self._follow(response, "query-results", "the status's results link")

    def _follow(self, response: httpx.Response, rel: str, what: str) -> str:
        """The URL an answer points on to: its `Location` header, else its `rel` link."""
        href = response.headers.get("location")
        if href:
            self.note(what, "the Location header")
        else:
            body = parse_json(response, SOURCE)
            href = link_href(body, rel)
            if not href:
                raise unreadable(
                    f"HTTP {response.status_code} with a Location header or a `{rel}` link",
                    body,
                    source=SOURCE,
                    endpoint=endpoint_of(response.request.method, response.request.url),
                )
            self.note(what, f"the body's `{rel}` link")
        return self.http.require_vendor_url(str(response.url.join(href)), what)

    # -- results pages ---------------------------------------------------------------

    async def _pages(self, url: str, endpoint: str) -> AsyncIterator[ResultsPage]:
        """The pages up to `pagination.total`, `page_concurrency` at a time, then, if the
        last page was full, one more to make sure the total did not stop short; without
        a total, by offset up to a page shorter than the first (the host's page size,
        whatever `limit` asked) or an empty one."""

        async def fetch(skip: int, take: int) -> ResultsPage:
            body = await self.http.get_json(url, params={"limit": take, "offset": skip})
            return self._results_page(body, skip, endpoint)

        first = await fetch(0, self.config.page_size)
        if first.total is None:
            self.note("results pagination", "absent; paging by offset up to a short page")
        paginator = OffsetPaginator(
            fetch,
            page_size=self.config.page_size,
            concurrency=self.config.page_concurrency,
            what="report results",
            source=SOURCE,
            endpoint=endpoint,
            end="short",
            probe_past_total=True,
        )
        async for page in paginator.pages(first):
            yield page

    def _results_page(self, body: Any, skip: int, endpoint: str) -> ResultsPage:
        rows = body.get("data") if isinstance(body, dict) else None
        if not isinstance(rows, list):
            raise unreadable(
                "a results page whose `data` is a list of rows",
                body,
                source=SOURCE,
                endpoint=endpoint,
            )
        kinds = set(map(type, rows))  # C speed: no Python per row on the bulk path
        if len(kinds) > 1 or kinds - {list, dict}:
            odd = next((r for r in rows if not isinstance(r, list | dict)), rows)
            raise unreadable(
                "results rows as arrays or objects", odd, source=SOURCE, endpoint=endpoint
            )
        if rows:
            self.note("results rows", "objects" if dict in kinds else "positional arrays")
        total = _paged_total(body.get("pagination"), skip, endpoint)
        if total is not None and not rows and 0 < skip < total:
            raise MalformedResponse(
                f"empty results page at offset {skip} of {total}",
                source=SOURCE,
                endpoint=endpoint,
                hint="the results changed while paging; rerun",
            )
        return ResultsPage(skip, rows, total, link_href(body, "export"))

    def _table(self, rows: list[Any], names: list[str]) -> pa.Table:
        if rows and type(rows[0]) is dict:
            return records_to_table(rows, reserved=ADDED_COLUMNS)
        return positional_rows_to_table(rows, names, reserved=ADDED_COLUMNS)


@dataclass(frozen=True)
class ResultsPage(Page):
    """A results page; `total` is None when the host sends no `pagination.total`."""

    export: str | None = None  # the page's `export` link (kissmetrics-api.md:243-246)


def _paged_total(pagination: Any, skip: int, endpoint: str) -> int | None:
    """`pagination.total`, None without one; a page that says which offset it is must be
    the one asked for."""
    if pagination is None:
        return None
    try:
        offset, total = pagination.get("offset"), pagination.get("total")
        if offset is not None and int(offset) != skip:
            raise MalformedResponse(
                f"asked for the page at offset {skip}, got offset {offset}",
                source=SOURCE,
                endpoint=endpoint,
                hint="the host ignores `offset`; nothing of this part was loaded",
            )
        return None if total is None else int(total)
    except (AttributeError, TypeError, ValueError):
        raise unreadable(
            "`pagination` with a numeric offset and total",
            pagination,
            source=SOURCE,
            endpoint=endpoint,
        ) from None
