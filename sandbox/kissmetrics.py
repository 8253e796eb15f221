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

import hashlib
import json
import math
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from sandbox.kissmetrics_metadata import CoreMetadata
from sandbox.kissmetrics_metadata import error as _error
from sandbox.kissmetrics_metadata import link as _link
from sandbox.server import Reply, Request, VendorServer

TOKEN = "km-sandbox-token-7f3a9c2e51d04b8a"
QUERY_IDS = uuid.UUID("0b5e8a52-4c1d-4f6e-9a3b-6d2c1e7f8a90")  # namespace of query ids
MAX_LIMIT = 10_000
OWN_PAGE_SIZE = 20  # `page_limit=own_size`: the host's page size, whatever `limit` asks
REPORTS_PAGE_SIZE = 2  # `reports_list=paged`: reports per page
CHANNELS = ("organic", "paid", "referral", "email", "social")
COUNTRIES = ("UA", "PL", "DE", "US")
DRIFTS = ("", "add_field", "change_type", "drop_field")
PLANS = ("free", "starter", "pro", "enterprise")


@dataclass
class ReportDef:
    id: str
    name: str
    report_type: str
    columns: list[str] | None  # None: the API gives no definition
    keys: list[str]  # the row's keys when results come as objects (`result_rows=objects`)

    def row(self, i: int, ts: datetime) -> list[Any]:
        """Row i of this report; values depend only on (report, i)."""
        h = int(hashlib.blake2b(f"{self.id}:{i}".encode(), digest_size=8).hexdigest(), 16)
        stamp = ts.isoformat()
        if self.report_type == "people_search_v2" and self.columns:
            return [
                100_000 + i,
                f"user{i}@example.com",
                CHANNELS[h % 5],
                stamp,
                round((h % 100_000) / 100, 2),
            ]
        if self.report_type == "revenue":
            return [100_000 + i, stamp, round((h % 50_000) / 100, 2), PLANS[h % 4]]
        return [f"person-{i}", f"user{i}@example.com", stamp]


REPORTS = (
    ReportDef(
        "64361c30-4a48-0131-0cbb-22000a9f1c0f",
        "Signups by Channel",
        "people_search_v2",
        ["identity", "email", "channel", "signed_up_at", "revenue"],
        ["identity", "email", "channel", "signed_up_at", "revenue"],
    ),
    ReportDef(
        "a05aaa60-dffd-0132-7bff-22000a9a8afc",
        "Revenue per Person",
        "revenue",
        None,
        ["KM Person", "Time", "Revenue", "Plan"],
    ),
    ReportDef(
        "c7e2f5b0-1a2b-0133-4c5d-22000a9a0001",
        "Active People",
        "people_search_v2",
        None,
        ["KM Person", "Email", "Last Seen"],
    ),
)


@dataclass
class Query:
    report: ReportDef
    start: datetime
    end: datetime  # inclusive, as the API takes it
    created: float
    latency: float
    never_completes: bool
    total: int | None = None  # rows its results had when last served


@dataclass
class ReportData:
    """The rows of one report: `n` computed rows, plus late rows and revisions from tests."""

    report: ReportDef
    n: int
    start: datetime
    end: datetime
    late: list[tuple[datetime, list[Any]]] = field(default_factory=list)
    revised: dict[int, list[Any]] = field(default_factory=dict)
    drift: str = ""  # schema drift of "Signups by Channel", one of DRIFTS

    def columns(self) -> list[str] | None:
        return drifted(self.report.columns, self.drift, ["country"])

    def keys(self) -> list[str]:
        return drifted(self.report.keys, self.drift, ["country"]) or []

    @property
    def step(self) -> float:
        return (self.end - self.start).total_seconds() / max(1, self.n)

    def time_of(self, i: int) -> datetime:
        return self.start + timedelta(seconds=math.floor(i * self.step))

    def row(self, i: int) -> list[Any]:
        row = self.revised.get(i) or self.report.row(i, self.time_of(i))
        if self.drift == "change_type" and self.report.columns:
            row = [*row[:4], f"{row[4]:.2f} USD"]
        return drifted(row, self.drift, [COUNTRIES[i % len(COUNTRIES)]])

    def index_range(self, lo: datetime, hi: datetime) -> range:
        """Indices of computed rows whose time lies in [lo, hi] (both inclusive)."""
        first = max(0, math.ceil((lo - self.start).total_seconds() / self.step - 1e-9))
        while first > 0 and self.time_of(first - 1) >= lo:
            first -= 1
        while first < self.n and self.time_of(first) < lo:
            first += 1
        last = min(self.n - 1, math.floor((hi - self.start).total_seconds() / self.step + 1e-9))
        while last >= 0 and last < self.n and self.time_of(last) > hi:
            last -= 1
        while last + 1 < self.n and self.time_of(last + 1) <= hi:
            last += 1
        return range(first, last + 1)

    def late_in(self, lo: datetime, hi: datetime) -> list[list[Any]]:
        return [row for ts, row in self.late if lo <= ts <= hi]

    def all_rows(self) -> list[list[Any]]:
        return [self.row(i) for i in range(self.n)] + [row for _, row in self.late]


class KissmetricsSim(CoreMetadata):
    name = "kissmetrics"
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

    def __init__(self, rows: int, *, data_start: datetime, data_end: datetime, seed: int = 0):
        per_report = max(1, rows // len(REPORTS))
        self.data = {r.id: ReportData(r, per_report, data_start, data_end) for r in REPORTS}
        self.data_start, self.data_end = data_start, data_end
        self.api = VendorServer("kissmetrics-api", seed=seed)
        self.query = VendorServer("kissmetrics-query", seed=seed + 1)
        self.token = TOKEN
        self.job_latency = 0.0
        # benchmarks: keep each results page's serialised rows, so the simulator is never
        # the bound (off by default: tests add late rows and revisions between runs)
        self.cache_pages = False
        self._page_cache: dict[tuple[Any, ...], bytes] = {}
        self.never_complete: set[str] = set()  # report ids whose queries never finish
        self.foreign_location: str | None = None  # base URL to put in status Locations
        for knob, forms in self.DIALECTS.items():
            setattr(self, knob, forms[0])
        # faults no reading of the doc allows: the source must fail the window, loudly
        self.ignore_offset = False  # every results page is the first, its offset echoed
        self.total_skew = 0  # added to `pagination.total`
        self.unknown_shape: set[str] = set()  # report ids whose results `data` is an object
        self.renamed: dict[str, str] = {}  # report id → the name the list gives it now
        self.deleted_reports: set[str] = set()
        self.queries: dict[str, Query] = {}
        self._lock = threading.Lock()
        self._routes()

    # -- lifecycle -------------------------------------------------------------------

    @property
    def servers(self) -> list[VendorServer]:
        return [self.api, self.query]

    def env(self) -> dict[str, str]:
        return {
            "SOURCES__KISSMETRICS__API_URL": self.api.base_url,
            "SOURCES__KISSMETRICS__QUERY_URL": self.query.base_url,
            "SOURCES__KISSMETRICS__API_TOKEN": self.token,
            "SOURCES__KISSMETRICS__START_DATE": self.data_start.date().isoformat(),
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

    def _routes(self) -> None:
        self.api.route("GET", r"/core/reports", self._authed(self._list_reports))
        self._metadata_routes()
        self.api.route("POST", r"/query/reports/(?P<rid>[^/]+)/run", self._authed(self._run))
        self.query.route(
            "POST",
            r"/v2/products/(?P<pid>[^/]+)/reports/(?P<rid>[^/]+)/run",
            self._authed(self._run),
        )
        self.query.route("GET", r"/v2/queries/(?P<qid>[^/]+)/status", self._authed(self._status))
        self.query.route("GET", r"/v2/queries/(?P<qid>[^/]+)/results", self._authed(self._results))

    def _authed(self, handler):
        def wrapped(request: Request, **kwargs: str) -> Reply:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return _error(401, "Unauthorized: missing or invalid API token")
            return handler(request, **kwargs)

        return wrapped

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


def drifted(values: list[Any] | None, drift: str, added: list[Any]) -> list[Any] | None:
    """A definition or row of "Signups by Channel" after a schema drift."""
    if values is None or len(values) != 5:
        return values
    if drift == "add_field":
        return [*values, *added]
    if drift == "drop_field":
        return [v for index, v in enumerate(values) if index != 2]  # no more `channel`
    return values


def _page_links(url: str, limit: int, offset: int, total: int) -> list[dict[str, Any]]:
    links = [_link(f"{url}?limit={limit}&offset={offset}", "self", "Self")]
    if offset + limit < total:
        links.append(_link(f"{url}?limit={limit}&offset={offset + limit}", "next", "Next"))
    return links
