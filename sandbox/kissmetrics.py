"""Kissmetrics simulator, after vendor-docs/kissmetrics-api.md.

Two hosts, as the real service has: the core API (`/core/reports`, HAL `links`; Report
Details, products and the account in `sandbox/kissmetrics_metadata.py`) and the query
API (`POST …/run` → 202 + `Location` to the status URL; status 200 with
`completed: false, progress` until the job's latency has passed, then 201 + `Location`
to the results; results paged with `limit`/`offset`, `pagination.total` and a `next`
link, rows as positional arrays). Bearer auth on every request of both hosts.

Data is computed, not stored: report r has `n` rows spread evenly over
[data_start, data_end); row i's values derive from (r, i), so any page of any window is
produced in O(page) time and memory, at any `rows`. Tests add late rows or revise
values, and read the ground truth back from here.

Where the doc is silent the simulator does what the real service most plausibly does:
error bodies are `{"meta": {"status": …, "message": …}}`; `limit` is capped at 10,000;
a report definition may carry `columns` (the source names result columns from it).

Where the doc leaves a detail open or contradicts itself, `DIALECTS` lists every plausible
form (the first is the default) and the knob of that name picks one, per request:
`run_dates` (prose: Unix seconds; example: ISO-8601), `run_link` (the list example's
api-host `/query/reports/<id>/run`, the run example's query-host
`/v2/products/<p>/reports/<r>/run`, or no `run` link), `run_answer` (Location header
and/or a `query-status` link), `status_done` (201 + Location as documented, or the
results only in a `query-results` link), `reports_list` (bare array as documented,
`{data: [...]}` like every other answer, or that paged), `result_rows` (positional
arrays or objects), `pagination` (present or absent) and `page_limit` (the host pages
by its own size whatever `limit` asks), plus `hal_links` and `core_item`
(sandbox/kissmetrics_metadata.py). A query's id derives from its report and window start,
so a window run again gets the same links. Faults no reading of the doc allows:
`ignore_offset`, `total_skew`, `unknown_shape`."""

from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sandbox.kissmetrics_data import DRIFTS, REPORTS, Query, ReportData
from sandbox.kissmetrics_metadata import CoreMetadata
from sandbox.kissmetrics_metadata import error as _error
from sandbox.kissmetrics_metadata import link as _link
from sandbox.server import Reply, Request
from sandbox.simulator import Route, Simulator

__all__ = ["REPORTS", "KissmetricsSim"]

TOKEN = "km-sandbox-token-7f3a9c2e51d04b8a"
QUERY_IDS = uuid.UUID("0b5e8a52-4c1d-4f6e-9a3b-6d2c1e7f8a90")  # namespace of query ids
MAX_LIMIT = 10_000
OWN_PAGE_SIZE = 20  # `page_limit=own_size`: the host's page size, whatever `limit` asks
REPORTS_PAGE_SIZE = 2  # `reports_list=paged`: reports per page


class KissmetricsSim(CoreMetadata, Simulator):
    name = "kissmetrics"
    HOSTS = ("api", "query")
    DIALECTS: ClassVar[dict[str, tuple[str, ...]]] = {
        "run_dates": ("iso", "unix"),
        "run_link": ("query", "api", "absent"),
        "run_answer": ("both", "location", "links"),
        "status_done": ("201_location", "200_links", "201_links"),
        "reports_list": ("array", "wrapped", "paged"),
        "result_rows": ("arrays", "objects"),
        "pagination": ("present", "absent"),
        "page_limit": ("honoured", "own_size"),
        **CoreMetadata.DIALECTS,
    }

    ROUTES = (
        Route("api", "GET", r"/core/reports", "_list_reports"),
        *CoreMetadata.METADATA_ROUTES,
        Route("api", "POST", r"/query/reports/(?P<rid>[^/]+)/run", "_run"),
        Route("query", "POST", r"/v2/products/(?P<pid>[^/]+)/reports/(?P<rid>[^/]+)/run", "_run"),
        Route("query", "GET", r"/v2/queries/(?P<qid>[^/]+)/status", "_status"),
        Route("query", "GET", r"/v2/queries/(?P<qid>[^/]+)/results", "_results"),
    )

    def setup(self, rows: int) -> None:
        per_report = max(1, rows // len(REPORTS))
        self.data = {
            r.id: ReportData(r, per_report, self.data_start, self.data_end) for r in REPORTS
        }
        self.token = TOKEN
        self.job_latency = 0.0
        # benchmarks: keep each results page's serialised rows, so the simulator is never
        # the bound (off by default: tests add late rows and revisions between runs)
        self.cache_pages = False
        self._page_cache: dict[tuple[Any, ...], bytes] = {}
        self.never_complete: set[str] = set()  # report ids whose queries never finish
        self.foreign_location: str | None = None  # base URL to put in status Locations
        # faults no reading of the doc allows: the source must fail the window, loudly
        self.ignore_offset = False  # every results page is the first, its offset echoed
        self.total_skew = 0  # added to `pagination.total`
        self.unknown_shape: set[str] = set()  # report ids whose results `data` is an object
        self.renamed: dict[str, str] = {}  # report id → the name the list gives it now
        self.deleted_reports: set[str] = set()
        self.queries: dict[str, Query] = {}

    # -- lifecycle -------------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        return {
            "api_url": self.api.base_url,
            "query_url": self.query.base_url,
            "api_token": self.token,
        }

    # -- what tests use ---------------------------------------------------------------

    def report(self, name: str) -> ReportData:
        return next(d for d in self.data.values() if d.report.name == name)

    def add_late_row(self, name: str, ts: datetime, row: list[Any]) -> None:
        self.report(name).late.append((ts, row))

    def revise(self, name: str, index: int, row: list[Any]) -> None:
        self.report(name).revised[index] = row

    def set_drift(self, drift: str) -> None:
        if drift not in DRIFTS:
            raise ValueError(f"drift must be one of {DRIFTS}")
        self.report("Signups by Channel").drift = drift

    def ground_truth(self) -> dict[str, list[list[Any]]]:
        return {d.report.name: d.all_rows() for d in self.data.values()}

    # -- protocol --------------------------------------------------------------------

    def refuse(self, host: str, request: Request, args: dict[str, str]) -> Reply | None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "Unauthorized: missing or invalid API token")
        return None

    def _list_reports(self, request: Request) -> Reply:
        reports = [self._report_json(report) for report in self.listed()]
        if self.reports_list == "array":
            return Reply.json(reports)
        base = f"{self.api.base_url}/core/reports"
        if self.reports_list == "wrapped":
            body = {"meta": {"status": 200}, "data": reports}
            return Reply.json({**body, "links": [_link(base, "self", "Self")]})
        try:
            limit = min(REPORTS_PAGE_SIZE, max(1, int(request.arg("limit", "2"))))
            offset = max(0, int(request.arg("offset", "0")))
        except ValueError:
            return _error(400, "limit and offset must be integers")
        return Reply.json(
            {
                "meta": {"status": 200},
                "data": reports[offset : offset + limit],
                "pagination": {"limit": limit, "offset": offset, "total": len(reports)},
                "links": _page_links(base, limit, offset, len(reports)),
            }
        )

    def _dates(self, body: Any) -> tuple[datetime, datetime]:
        """The run's start and end in the `run_dates` form; ValueError names what it wants."""
        try:
            start, end = body["start_date"], body["end_date"]
        except (KeyError, TypeError):
            raise ValueError("start_date and end_date are required") from None
        if self.run_dates == "unix":
            if not all(type(v) is int for v in (start, end)):
                raise ValueError("start_date and end_date must be Unix timestamps in seconds")
            return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)
        try:
            parsed = datetime.fromisoformat(start), datetime.fromisoformat(end)
        except (TypeError, ValueError):
            raise ValueError("start_date and end_date must be ISO-8601 datetimes") from None
        if any(d.tzinfo is None for d in parsed):
            raise ValueError("start_date and end_date need offsets")
        return parsed

    def _run(self, request: Request, rid: str, pid: str | None = None) -> Reply:
        if rid not in self.data or pid not in (None, self.product_of(rid)):
            return _error(404, f"report {rid} not found")
        try:
            start, end = self._dates(request.json())
        except ValueError as exc:
            return _error(400, str(exc))
        if end < start:
            return _error(400, "end_date before start_date")
        # the same window of a report gets the same query id, so its links are stable
        qid = str(uuid.uuid5(QUERY_IDS, f"{rid}:{start.astimezone(UTC).isoformat()}"))
        with self._lock:
            self.queries[qid] = Query(
                self.data[rid].report,
                start,
                end,
                time.monotonic(),
                self.job_latency,
                rid in self.never_complete,
            )
        status_url = f"{self.foreign_location or self.query.base_url}/v2/queries/{qid}/status"
        body: dict[str, Any] = {"meta": {"status": 202}, "data": {"message": "success"}}
        if self.run_answer != "location":
            body["links"] = [_link(status_url, "query-status", "Status")]
        if self.run_answer == "links":  # no Location header: the body's link only
            return Reply.json({**body, "meta": {"status": 200}})
        reply = Reply.json(body, 202)
        reply.headers["Location"] = status_url
        return reply

    def _status(self, request: Request, qid: str) -> Reply:
        query = self.queries.get(qid)
        if query is None:
            return _error(404, f"query {qid} not found")
        base = self.query.base_url
        status_url = f"{base}/v2/queries/{qid}/status"
        elapsed = time.monotonic() - query.created
        if query.never_completes or elapsed < query.latency:
            progress = 0.0 if query.never_completes else round(elapsed / query.latency, 2)
            return Reply.json(
                {
                    "meta": {"status": 200},
                    "data": {"completed": False, "progress": min(progress, 0.99)},
                    "links": [_link(status_url, "self", "Self")],
                }
            )
        results_url = f"{base}/v2/queries/{qid}/results"
        status = 200 if self.status_done == "200_links" else 201
        reply = Reply.json(
            {
                "meta": {"status": status},
                "data": {"completed": True, "progress": 1.0},
                "links": [
                    _link(status_url, "self", "Self"),
                    _link(results_url, "query-results", "Results"),
                ],
            },
            status,
        )
        if self.status_done == "201_location":
            reply.headers["Location"] = results_url
        return reply

    def _results(self, request: Request, qid: str) -> Reply:
        query = self.queries.get(qid)
        if query is None:
            return _error(404, f"query {qid} not found")
        try:
            limit = min(MAX_LIMIT, max(1, int(request.arg("limit", "50"))))
            offset = max(0, int(request.arg("offset", "0")))
        except ValueError:
            return _error(400, "limit and offset must be integers")
        if self.page_limit == "own_size":
            limit = OWN_PAGE_SIZE
        data = self.data[query.report.id]
        lo, hi = query.start.astimezone(UTC), query.end.astimezone(UTC)
        indices = data.index_range(lo, hi)
        late = data.late_in(lo, hi)
        total = query.total = len(indices) + len(late)
        served = 0 if self.ignore_offset else offset
        rows = self._rows(data, indices, late, served, limit)
        base = f"{self.query.base_url}/v2/queries/{qid}"
        rest: dict[str, Any] = {"links": _page_links(f"{base}/results", limit, offset, total)}
        rest["links"].append(_link(f"{base}/export", "export", "Export"))
        if self.pagination == "present":
            told = total + self.total_skew
            rest["pagination"] = {"limit": limit, "offset": offset, "total": told}
        if query.report.id in self.unknown_shape:
            rows = b'{"rows":' + rows + b',"count":%d}' % total
        tail = json.dumps(rest, separators=(",", ":")).encode()
        return Reply(200, b'{"meta":{"status":200},"data":' + rows + b"," + tail[1:])

    def _rows(
        self, data: ReportData, indices: range, late: list[list[Any]], offset: int, limit: int
    ) -> bytes:
        """One page of rows, serialised in the `result_rows` form (cached for benchmarks)."""
        key = (data.report.id, indices.start, indices.stop, offset, limit, self.result_rows)
        cached = self._page_cache.get(key) if self.cache_pages and not late else None
        if cached is not None:
            return cached
        rows: list[Any] = [data.row(i) for i in indices[offset : offset + limit]]
        if len(rows) < limit and offset + len(rows) >= len(indices):
            late_offset = max(0, offset - len(indices))
            rows += late[late_offset : late_offset + limit - len(rows)]
        if self.result_rows == "objects":
            keys = data.keys()
            rows = [dict(zip(keys, row, strict=False)) for row in rows]
        serialised = json.dumps(rows, separators=(",", ":")).encode()
        if self.cache_pages and not late:
            self._page_cache[key] = serialised
        return serialised


def _page_links(url: str, limit: int, offset: int, total: int) -> list[dict[str, Any]]:
    links = [_link(f"{url}?limit={limit}&offset={offset}", "self", "Self")]
    if offset + limit < total:
        links.append(_link(f"{url}?limit={limit}&offset={offset + limit}", "next", "Next"))
    return links
