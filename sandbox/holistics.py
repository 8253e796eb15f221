"""Holistics API v2 simulator, after vendor-docs/holistics-api-v2.txt.

Two hosts, as the real service has: the API (`/api/v2/…`, `X-Holistics-Key` on every
request) and a file storage host the export download redirects to (a signed URL that
needs no key). What it speaks:
- cursor-paged lists (`limit` 1..100, default 20; `after`/`before` opaque cursors;
  `cursors: {previous, next}`): dashboards, data schedules, data alerts, users, groups;
  `GET /dashboards/{id}` with `widgets` and `dynamic_filters`; `GET /users/me`;
- exports as jobs: `POST /dashboard_widgets/{id}/submit_export` → `{job: {id, status}}`;
  the job goes created → queued → running → success (or failure / cancelled for the
  widgets in `fail_widgets` / `cancel_widgets`) over `job_latency` seconds;
  `GET /jobs?ids[]=…` (List Jobs, ≤ 100 ids, unknown ids left out), `GET /jobs/{id}`,
  `GET /jobs/{id}/logs`; `GET /exports/download?job_id=` → 302 to the storage host;
- CSV exports streamed row by row (any size, constant memory): UTF-8 BOM, CRLF, every
  text field quoted, embedded quotes, commas and line breaks, unquoted empty = NULL,
  quoted empty = "", zero-padded codes, unicode; dashboard filter conditions applied
  (`between` on a widget's date filter; conditions of other dashboards' filters are
  ignored);
- rate limits per endpoint (route) in the documented levels, 120 / 60 / 20 requests per
  `quota_window` (60 s): level 3 for submit_export, level 2 for the download and Get a
  Dashboard, level 1 for the rest; `RateLimit-Limit/Remaining/Reset` on every answer,
  429 with `Retry-After` and a `RateLimitExceedError` body when exceeded; `spent_quota`
  requests of every route's first window already used by another client of the user;
- error bodies `{type, message, details}`: AuthError (401), PermissionDeniedError (403,
  `forbidden_widgets`), InvalidParameterError (400/422), RecordError, MaintenanceError
  (`maintenance`), InternalHolisticsError with a debug id (`internal_errors`, a count).

Where the docs leave a detail open, the simulator speaks every plausible form: `DIALECTS`
lists the knobs (default form first; docs/vendor-assumptions.md has the doc lines).
Plants no reading of the docs would give: `unknown_shape` (the job endpoints answer a
JSON:API body), `odd_status_widgets` (their jobs end in a status nobody documents),
`clashing_header` (the small widgets' CSV header repeats a name and holds `_widget_id`),
`short_widgets` (their files lose the last row the job counted).

Data is computed, not stored: widget w's row i derives from (w, i); tests revise rows
and read the ground truth back from here (`csv_rows`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from sandbox import holistics_realistic as realistic
from sandbox.holistics_metadata import N_ALERTS as N_ALERTS
from sandbox.holistics_metadata import N_GROUPS as N_GROUPS
from sandbox.holistics_metadata import N_SCHEDULES as N_SCHEDULES
from sandbox.holistics_metadata import N_USERS as N_USERS
from sandbox.holistics_metadata import MetadataSim, _error, _h
from sandbox.holistics_objects import ObjectsSim
from sandbox.server import Reply, Request, VendorServer, reset_value

API_KEY = "hol-sandbox-key-3b9e61f04c7d4a2e"
PREFIX = "/api/v2"
LEVELS = {1: 120, 2: 60, 3: 20}
N_DASHBOARDS = 23
REGIONS = ("APAC", "EMEA", "NA", "LATAM", "ANZ")
PLANS = ("free", "starter", "pro", "enterprise")
NOTES: tuple[str | None, ...] = (
    "plain",
    "comma, inside",
    'quote "inside" here',
    "line\nbreak",
    "crlf\r\nbreak",
    "",
    None,
    "unicode ü 日本 🚀",
    "  spaced  ",
    '"",',
)


@dataclass
class Widget:
    id: int
    dashboard_id: int
    title: str
    kind: str  # "sales" (dated, many rows) or "plans" (small, typed)
    rows: int

    @property
    def date_filter_id(self) -> int:
        return self.dashboard_id * 10 + 1


SALES_HEADER = ["Row ID", "Order Date", "Region", "Orders", "Revenue", "Code", "Note", "Created At"]
PLANS_HEADER = ["Plan", "Users", "Share", "Active", "Updated"]
CLASHING_HEADER = ["Plan", "PLAN", "_widget_id", "Active", "Updated"]

# the job states of the docs (created, queued, running, success, failure, cancelled) in
# each vocabulary a Holistics build might speak
JOB_STATES: dict[str, dict[str, str]] = {
    "documented": {},
    "pending_processing_succeeded": {
        "created": "pending",
        "queued": "pending",
        "running": "processing",
        "success": "succeeded",
        "failure": "failed",
        "cancelled": "canceled",
    },
    "in_progress_completed_error": {
        "running": "in_progress",
        "success": "completed",
        "failure": "error",
    },
    "upper_case": {s: s.upper() for s in ("created", "queued", "running", "success", "failure")}
    | {"cancelled": "CANCELLED"},
}
S3_SIGNED = (
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
STORAGE_SECRET = b"sandbox-storage-secret"


@dataclass
class Job:
    id: int
    widget: Widget
    conditions: list[dict[str, Any]]
    created: float
    latency: float
    outcome: str  # success | failure | cancelled
    created_at: str

    def status(self) -> str:
        if self.latency <= 0:
            return self.outcome
        share = (time.monotonic() - self.created) / self.latency
        if share < 0.2:
            return "created"
        if share < 0.5:
            return "queued"
        if share < 1.0:
            return "running"
        return self.outcome

    def json(self, states: str = "documented", rows: int | None = None) -> dict[str, Any]:
        status = self.status()
        body = {
            "id": self.id,
            "status": JOB_STATES[states].get(status, status),
            "source_type": "DashboardWidget",
            "source_id": self.widget.id,
            "source_method": "export",
            "created_at": self.created_at,
        }
        if rows is not None and status == "success":
            body["row_count"] = rows
        return body


class HolisticsServer(VendorServer):
    """The API host: per-endpoint quotas on top of the shared server's behaviour."""

    def __init__(self, sim: HolisticsSim, name: str, *, seed: int = 0) -> None:
        super().__init__(name, seed=seed)
        self.sim = sim
        self._buckets: dict[str, tuple[float, int]] = {}

    def handle(self, request: Request) -> tuple[Reply, str | None]:
        headers: dict[str, str] = {}
        if self.sim.quota_window > 0:
            with self._lock:
                headers, exceeded = self._count(request)
                if exceeded:
                    self.served_429 += 1
                    reply = self._limited(headers["RateLimit-Reset"], headers)
                    return reply, None
        reply, fault = super().handle(request)
        for name, value in headers.items():
            reply.headers.setdefault(name, value)
        return reply, fault

    def _count(self, request: Request) -> tuple[dict[str, str], bool]:
        route = self.sim.route_of(request)
        limit = self.sim.levels[self.sim.level_of(request.method, route)]
        window = self.sim.quota_window
        now = time.monotonic()
        started, used = self._buckets.get(route, (now, self.sim.spent_quota))
        if now - started >= window:
            started, used = now, 0
        exceeded = used >= limit
        if not exceeded:
            used += 1
        self._buckets[route] = (started, used)
        reset = reset_value(max(1, math.ceil(started + window - now)), self.sim.reset_format)
        return {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(max(0, limit - used)),
            "RateLimit-Reset": reset,
        }, exceeded

    @staticmethod
    def _limited(retry_after: str, headers: dict[str, str]) -> Reply:
        reply = _error(429, "RateLimitExceedError", "Rate limit exceeded, retry later")
        reply.headers.update(headers)
        reply.headers["Retry-After"] = retry_after
        return reply


class HolisticsSim(MetadataSim, ObjectsSim):
    name = "holistics"
    # each detail the docs leave open, with every plausible form (the default first)
    DIALECTS: ClassVar[dict[str, tuple[str, ...]]] = {
        # GET /exports/download: a 302 to storage signed in the path, a 302 to a URL
        # pre-signed in its query string (S3), or the file itself
        "download": ("path_signed", "query_signed", "direct"),
        # RateLimit-Reset / Retry-After "next_reset_time": seconds to wait, or a Unix time
        "reset_format": ("seconds", "unix"),
        # the job status vocabulary (JOB_STATES)
        "job_states": tuple(JOB_STATES),
        # how List Jobs reads `ids`: `ids[]=1&ids[]=2` (Rails), `ids=1&ids=2`, `ids=1,2`,
        # or not at all (no List Jobs: 404)
        "job_ids": ("rails_array", "repeated", "comma", "unsupported"),
        # how the last page of a list says there is no next one
        "last_cursor": ("null", "absent", "empty", "no_cursors"),
        # where submit_export reads `output`: the JSON body (v2 reference) or the query
        "output_param": ("body", "query"),
        # whether a finished job says how many rows its export holds
        "row_count": ("absent", "job_field"),
        **MetadataSim.METADATA_DIALECTS,
        **ObjectsSim.OBJECT_DIALECTS,
    }

    def __init__(self, rows: int, *, data_start: datetime, data_end: datetime, seed: int = 0):
        self.data_start, self.data_end = data_start, data_end
        self.days = max(1, (data_end.date() - data_start.date()).days + 1)
        self.api = HolisticsServer(self, "holistics-api", seed=seed)
        self.storage = VendorServer("holistics-storage", seed=seed + 1)
        self.api_key = API_KEY
        self.levels = dict(LEVELS)
        self.quota_window = 60.0
        self.spent_quota = 0
        self.job_latency = 0.0
        for knob, forms in self.DIALECTS.items():
            setattr(self, knob, forms[0])
        self.unknown_shape = False
        self.odd_status_widgets: set[str] = set()
        self.clashing_header = False
        self.short_widgets: set[str] = set()  # their files lose the last row
        # benchmarks: keep each export's CSV bytes, so the simulator is never the bound
        # (off by default: tests revise rows between exports)
        self.cache_exports = False
        self.realistic_rows = 0  # > 0: the wide widget of sandbox/holistics_realistic.py
        self._export_cache: dict[tuple[int, tuple[str, str] | None], list[bytes]] = {}
        self.fail_widgets: set[str] = set()
        self.cancel_widgets: set[str] = set()
        self.forbidden_widgets: set[str] = set()
        # widgets the key's owner may not export: `export_data` false, and a 403 on export
        self.unexportable_widgets: set[str] = set()
        self.maintenance = False
        self.removed: dict[str, set[int]] = {}  # list key → ids deleted since the start
        self.internal_errors = 0
        self.revised: dict[tuple[int, int], list[Any]] = {}
        self.jobs: dict[int, Job] = {}
        self.exports: list[tuple[int, list[dict[str, Any]]]] = []  # (widget, conditions)
        self._files: dict[str, int] = {}
        self._lock = threading.Lock()
        ObjectsSim.__init__(self)
        self._build(rows)
        self._routes()

    # -- data ------------------------------------------------------------------------

    def _build(self, rows: int) -> None:
        self.dashboards: list[dict[str, Any]] = []
        self.widgets: dict[int, Widget] = {}
        next_widget = 100
        # every sales widget covers every day of the data range, at least twice
        per_widget = max(2 * self.days, rows // N_DASHBOARDS)
        for d in range(1, N_DASHBOARDS + 1):
            for k in range(1 + d % 3):
                kind = "sales" if k == 0 else "plans"
                self.widgets[next_widget] = Widget(
                    next_widget,
                    d,
                    f"Dashboard {d} widget {k + 1}",
                    kind,
                    per_widget if kind == "sales" else len(PLANS) * 3,
                )
                next_widget += 1
            self.dashboards.append({"id": d, "title": f"Dashboard {d}", "category_id": d % 4})

    def widgets_of(self, dashboard_id: int) -> list[Widget]:
        return [w for w in self.widgets.values() if w.dashboard_id == dashboard_id]

    def day_of(self, widget: Widget, i: int) -> date:
        return self.data_start.date() + timedelta(days=i * self.days // widget.rows)

    def row(self, widget: Widget, i: int) -> list[Any]:
        if (widget.id, i) in self.revised:
            return list(self.revised[(widget.id, i)])
        h = _h(widget.id, i)
        if widget.kind == "sales":
            day = self.day_of(widget, i)
            created = datetime.combine(day, datetime.min.time()) + timedelta(seconds=h % 86_400)
            return [
                i + 1,
                day.isoformat(),
                REGIONS[h % len(REGIONS)],
                h % 1_000,
                round((h % 10_000_000) / 100, 2),
                f"{h % 100_000:05d}",
                NOTES[i % len(NOTES)],
                created.strftime("%Y-%m-%d %H:%M:%S"),
            ]
        updated = self.data_start + timedelta(hours=i)
        return [
            f"{PLANS[i % len(PLANS)]}-{i // len(PLANS)}",
            h % 5_000,
            round((h % 1_000) / 1_000, 3),
            "true" if h % 2 else "false",
            updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ]

    def header(self, widget: Widget) -> list[str]:
        if widget.kind == "sales":
            return SALES_HEADER
        return CLASHING_HEADER if self.clashing_header else PLANS_HEADER

    def csv_rows(
        self, widget_id: int | str, conditions: list[dict[str, Any]] | None = None
    ) -> Iterator[list[Any]]:
        """The rows an export of the widget holds under these filter conditions."""
        widget = self.widgets[int(widget_id)]
        window = self._window(widget, conditions or [])
        for i in range(widget.rows):
            if window and widget.kind == "sales":
                day = self.day_of(widget, i).isoformat()
                if not window[0] <= day <= window[1]:
                    continue
            yield self.row(widget, i)

    def revise(self, widget_id: int, i: int, row: list[Any]) -> None:
        self.revised[(widget_id, i)] = row

    @staticmethod
    def _window(widget: Widget, conditions: list[dict[str, Any]]) -> tuple[str, str] | None:
        for c in conditions:
            if str(c.get("dynamic_filter_id")) != str(widget.date_filter_id):
                continue
            condition = c.get("condition") or {}
            values = condition.get("values") or []
            if condition.get("operator") == "between" and len(values) == 2:
                return str(values[0])[:10], str(values[1])[:10]
        return None

    def _csv_chunks(self, widget: Widget, conditions: list[dict[str, Any]]) -> Iterator[bytes]:
        if widget.kind == realistic.KIND:
            window = self._window(widget, conditions)
            yield from realistic.csv_chunks(widget, self.data_start.date(), self.days, window)
            return
        lines = ["\ufeff" + ",".join(_field(h) for h in self.header(widget))]
        rows: Iterator[list[Any]] = self.csv_rows(widget.id, conditions)
        if str(widget.id) in self.short_widgets:
            rows = iter(list(rows)[:-1])
        for row in rows:
            lines.append(",".join(_field(v) for v in row))
            if len(lines) >= 500:
                yield ("\r\n".join(lines) + "\r\n").encode()
                lines = []
        if lines:
            yield ("\r\n".join(lines) + "\r\n").encode()

    # -- metadata --------------------------------------------------------------------

    def _dashboard_detail(self, d: dict[str, Any]) -> dict[str, Any]:
        did = d["id"]
        filters = [
            {
                "id": did * 10 + 1,
                "order": 0,
                "uname": "date_range",
                "permissions": {"read": True, "crud": True, "use": True},
                "definition": {
                    "id": did * 10 + 1,
                    "label": "Order Date",
                    "default_condition": {"operator": "matches", "values": ["last 30 days"]},
                    "filter_type": "date",
                    "is_sharable": True,
                    "filter_source": {"source_type": "ManualFilterSource", "manual_options": []},
                },
                "drillthrough_enabled": False,
                "mappings": [
                    {
                        "id": did * 100 + w.id,
                        "viz_conditionable_id": w.id,
                        "viz_conditionable_type": "DashboardWidget",
                        "field_path": {"field_name": "order_date", "model_id": 7, "data_set_id": 3},
                        "aggregation": None,
                        "permissions": {"crud": True},
                    }
                    for w in self.widgets_of(did)
                ],
            },
            {
                "id": did * 10 + 2,
                "order": 1,
                "uname": "region",
                "permissions": {"read": True, "crud": True, "use": True},
                "definition": {
                    "id": did * 10 + 2,
                    "label": "Region",
                    "default_condition": {"operator": "is", "values": []},
                    "filter_type": "string",
                    "is_sharable": False,
                    "filter_source": {
                        "source_type": "ManualFilterSource",
                        "manual_options": [{"value": r} for r in REGIONS],
                    },
                },
                "drillthrough_enabled": True,
                "mappings": [],
            },
        ]
        widgets = [
            {
                "id": w.id,
                "source_id": 5_000 + w.id,
                "source_type": "QueryReport",
                "source_title": w.title,
                "permissions": {
                    "explore": True,
                    "export": True,
                    "export_data": str(w.id) not in self.unexportable_widgets,
                },
            }
            for w in self.widgets_of(did)
        ]
        return {**d, "version": 3, "dynamic_filters": filters, "widgets": widgets}

    # -- lifecycle -------------------------------------------------------------------

    @property
    def servers(self) -> list[VendorServer]:
        return [self.api, self.storage]

    @property
    def base_url(self) -> str:
        return f"{self.api.base_url}{PREFIX}"

    def env(self) -> dict[str, str]:
        return {
            "SOURCES__HOLISTICS__BASE_URL": self.base_url,
            "SOURCES__HOLISTICS__API_KEY": self.api_key,
            "SOURCES__HOLISTICS__DASHBOARD_IDS": "[1, 2]",
            "SOURCES__HOLISTICS__WIDGET_IDS": "[105]",
            "SOURCES__HOLISTICS__START_DATE": self.data_start.date().isoformat(),
            # opt-in paths, cheap here: the demo and every full load read them
            "SOURCES__HOLISTICS__DATA_MODEL_PROJECTS": "[1, 2]",
            "SOURCES__HOLISTICS__DEPENDENCY_TYPES": '["DataSource", "DataSet", "DataModel"]',
            "SOURCES__HOLISTICS__USER_ATTRIBUTE_ENTRIES": "true",
            "SOURCES__HOLISTICS__LIST_FILTERS": '{"groups": {"include_users": true}}',
        }

    # -- protocol --------------------------------------------------------------------

    ROUTES = (
        ("GET", r"/users/me", "_me", 1),
        ("GET", r"/dashboards", "_list_dashboards", 1),
        ("GET", r"/dashboards/(?P<did>\d+)", "_get_dashboard", 2),
        ("POST", r"/dashboard_widgets/(?P<wid>\d+)/submit_export", "_submit_export", 3),
        ("GET", r"/jobs", "_list_jobs", 1),
        ("GET", r"/jobs/(?P<jid>\d+)", "_get_job", 1),
        ("GET", r"/jobs/(?P<jid>\d+)/logs", "_job_logs", 1),
        ("GET", r"/exports/download", "_download", 2),
        *MetadataSim.METADATA_ROUTES,
        *ObjectsSim.OBJECT_ROUTES,
    )

    def _routes(self) -> None:
        for method, pattern, handler, _ in self.ROUTES:
            self.api.route(method, PREFIX + pattern, self._guarded(getattr(self, handler)))
        self.storage.route("GET", r"/files/(?P<token>[0-9a-f]+)/(?P<name>[^/]+)", self._file)
        self.storage.route("GET", r"/signed/(?P<name>[^/]+)", self._signed)

    def route_of(self, request: Request) -> str:
        for method, pattern, _, _ in self.ROUTES:
            if method == request.method and re.fullmatch(PREFIX + pattern, request.path):
                return f"{method} {pattern}"
        return f"{request.method} other"

    def level_of(self, method: str, route: str) -> int:
        for m, pattern, _, level in self.ROUTES:
            if route == f"{m} {pattern}":
                return level
        return 1

    def _guarded(self, handler):
        def wrapped(request: Request, **kwargs: str) -> Reply:
            if request.headers.get("x-holistics-key") != self.api_key:
                return _error(
                    401,
                    "AuthError",
                    "Could not authorize current user: invalid or expired API key",
                )
            if self.maintenance:
                return _error(503, "MaintenanceError", "Your admins have set maintenance mode")
            with self._lock:
                if self.internal_errors > 0:
                    self.internal_errors -= 1
                    debug_id = hashlib.md5(str(time.monotonic()).encode()).hexdigest()[:12]
                    reply = _error(
                        500,
                        "InternalHolisticsError",
                        f"Internal Holistics error. Please provide us the debug id {debug_id}",
                    )
                    return reply
            return handler(request, **kwargs)

        return wrapped

    def _page(
        self, request: Request, key: str, items: list[dict[str, Any]], around: Any = None
    ) -> Reply:
        """One page of a cursor-paged list; `around(page)` gives the keys beside it."""
        try:
            limit = int(request.arg("limit", "20"))
        except ValueError:
            limit = -1
        if not 1 <= limit <= 100:
            return _error(422, "InvalidParameterError", "limit must be between 1 and 100")
        after, before = request.arg("after"), request.arg("before")
        items = [x for x in items if x["id"] not in self.removed.get(key, ())]
        try:
            if after:
                items = [x for x in items if x["id"] > _decode(after)]
            elif before:
                items = [x for x in items if x["id"] < _decode(before)][-limit:]
        except ValueError:
            return _error(422, "InvalidParameterError", "invalid cursor")
        page = items[:limit]
        extra = around(page) if around else {}
        cursors: dict[str, Any] = {"previous": _encode(page[0]["id"]) if page else None}
        if page and len(items) > limit:
            cursors["next"] = _encode(page[-1]["id"])
        elif self.last_cursor == "no_cursors":
            return Reply.json({key: page, **extra})
        elif self.last_cursor != "absent":
            cursors["next"] = None if self.last_cursor == "null" else ""
        return Reply.json({key: page, **extra, "cursors": cursors})

    def _me(self, request: Request) -> Reply:
        return Reply.json({"user": self.users()[0]})

    def _list_dashboards(self, request: Request) -> Reply:
        embed = request.arg("include_embed_info") == "true"
        return self._page(
            request,
            "dashboards",
            [
                {**d, "embed_info": {"embed_code": f"emb-{d['id']}"}} if embed else d
                for d in self.dashboards
            ],
        )

    def _get_dashboard(self, request: Request, did: str) -> Reply:
        found = [d for d in self.dashboards if d["id"] == int(did)]
        if not found:
            return _error(404, "BaseError", f"Dashboard {did} not found")
        return Reply.json({"dashboard": self._dashboard_detail(found[0])})

    def _submit_export(self, request: Request, wid: str) -> Reply:
        widget = self.widgets.get(int(wid)) or realistic.widget(int(wid), self.realistic_rows)
        if widget is None:
            return _error(404, "BaseError", f"Dashboard widget {wid} not found")
        if wid in self.forbidden_widgets | self.unexportable_widgets:
            return _error(
                403, "PermissionDeniedError", "You do not have permission to export this widget"
            )
        try:
            body = request.json() or {}
        except ValueError:
            return _error(400, "InvalidParameterError", "body is not JSON")
        output = body.get("output") if self.output_param == "body" else request.arg("output")
        if output not in ("csv", "xlsx", "pdf"):
            return _error(422, "InvalidParameterError", "output must be one of csv, xlsx, pdf")
        if output != "csv":
            return _error(422, "InvalidOperationError", "only csv exports are simulated")
        conditions = body.get("dashboard_filter_conditions") or []
        if not isinstance(conditions, list):
            return _error(422, "InvalidParameterError", "dashboard_filter_conditions: a list")
        if wid in self.odd_status_widgets:
            outcome = "archived"
        elif wid in self.fail_widgets:
            outcome = "failure"
        elif wid in self.cancel_widgets:
            outcome = "cancelled"
        else:
            outcome = "success"
        with self._lock:
            job_id = 9_000 + len(self.jobs) + 1
            self.jobs[job_id] = Job(
                job_id,
                widget,
                conditions,
                time.monotonic(),
                self.job_latency,
                outcome,
                datetime.now(UTC).isoformat(),
            )
            self.exports.append((widget.id, conditions))
        return Reply.json({"job": {"id": job_id, "status": "created"}})

    def _job_ids(self, request: Request) -> list[str]:
        """The ids as this dialect reads them: a Rails array, every repeated `ids` (each
        an integer), or the last `ids` split at commas (Rails keeps the last of a repeat)."""
        if self.job_ids == "rails_array":
            return request.query.get("ids[]", [])
        values = request.query.get("ids", [])
        if self.job_ids == "repeated":
            return values
        return values[-1].split(",") if values else []

    def _list_jobs(self, request: Request) -> Reply:
        if self.job_ids == "unsupported":
            return _error(404, "BaseError", "Not found")
        raw = self._job_ids(request)
        if not raw:
            return _error(422, "InvalidParameterError", "ids is required")
        if not all(v.strip().isdigit() for v in raw):
            return _error(400, "InvalidParameterError", "ids must be an array of integers")
        if len(raw) > 100:
            return _error(422, "InvalidParameterError", "at most 100 ids per request")
        jobs = [self.jobs[int(i)] for i in raw if int(i) in self.jobs]
        if self.unknown_shape:
            return Reply.json({"data": [self._jsonapi(job) for job in jobs]})
        return Reply.json({"jobs": [self._job_json(job) for job in jobs]})

    def _get_job(self, request: Request, jid: str) -> Reply:
        job = self.jobs.get(int(jid))
        if job is None:
            return _error(404, "BaseError", f"Job {jid} not found")
        if self.unknown_shape:
            return Reply.json({"data": self._jsonapi(job)})
        return Reply.json({"job": self._job_json(job)})

    def _job_json(self, job: Job) -> dict[str, Any]:
        rows = None
        if self.row_count == "job_field":
            rows = sum(1 for _ in self.csv_rows(job.widget.id, job.conditions))
        return job.json(self.job_states, rows)

    def _jsonapi(self, job: Job) -> dict[str, Any]:
        """The `unknown_shape` plant: a job as no reading of the Holistics docs gives it."""
        return {"type": "job", "id": str(job.id), "attributes": {"state": job.status()}}

    def _job_logs(self, request: Request, jid: str) -> Reply:
        job = self.jobs.get(int(jid))
        if job is None:
            return _error(404, "BaseError", f"Job {jid} not found")
        return Reply.json({"job_logs": self.log_entries(job)})

    @staticmethod
    def log_entries(job: Job) -> list[dict[str, Any]]:
        logs = [{"id": 1, "job_id": job.id, "level": "info", "message": "Job started"}]
        status = job.status()
        if status == "failure":
            logs.append(
                {
                    "id": 2,
                    "job_id": job.id,
                    "level": "error",
                    "message": f'Query of widget {job.widget.id} failed: relation "sales" '
                    "does not exist",
                }
            )
        elif status == "cancelled":
            logs.append({"id": 2, "job_id": job.id, "level": "warn", "message": "Job cancelled"})
        return logs

    def _download(self, request: Request) -> Reply:
        raw = request.arg("job_id") or ""
        job = self.jobs.get(int(raw)) if raw.isdigit() else None
        if job is None:
            return _error(404, "BaseError", f"Job {raw} not found")
        if job.status() != "success":
            return _error(422, "InvalidOperationError", f"Job {raw} has not succeeded")
        if self.download == "direct":
            return self._export(job)
        token = hashlib.sha1(f"{job.id}:{time.monotonic()}".encode()).hexdigest()
        name = f"widget_{job.widget.id}.csv"
        if self.download == "query_signed":
            query = _presigned(name, token)
            token = query["X-Amz-Signature"]
            location = f"{self.storage.base_url}/signed/{name}?{urlencode(query)}"
        else:
            location = f"{self.storage.base_url}/files/{token}/{name}"
        with self._lock:
            self._files[token] = job.id
        return Reply(302, b"", headers={"Location": location})

    def _file(self, request: Request, token: str, name: str) -> Reply:
        job_id = self._files.get(token)
        if job_id is None:
            return Reply(403, b"<Error>AccessDenied</Error>", "application/xml")
        return self._export(self.jobs[job_id])

    def _signed(self, request: Request, name: str) -> Reply:
        """An S3-style pre-signed URL: exactly the signed query parameters, no credentials
        of ours, or 403 `SignatureDoesNotMatch`."""
        query = {k: v[0] for k, v in request.query.items() if len(v) == 1}
        intact = (
            set(request.query) == set(S3_SIGNED)
            and len(query) == len(S3_SIGNED)
            and not {"authorization", "x-holistics-key"} & set(request.headers)
            and hmac.compare_digest(_signature(name, query), query["X-Amz-Signature"])
        )
        job_id = self._files.get(query.get("X-Amz-Signature", "")) if intact else None
        if job_id is None:
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch'
                "</Code><Message>The request signature we calculated does not match the "
                "signature you provided. Check your key and signing method.</Message></Error>"
            )
            return Reply(403, body.encode(), "application/xml")
        return self._export(self.jobs[job_id])

    def _export(self, job: Job) -> Reply:
        """The export's CSV, streamed (or from the benchmark cache)."""
        if not self.cache_exports:
            chunks = self._csv_chunks(job.widget, job.conditions)
            return Reply(200, chunks, "text/csv; charset=utf-8")
        window = self._window(job.widget, job.conditions)
        if window is not None:  # the same rows whatever the window reaches beyond the data
            first, last = self.data_start.date().isoformat(), self.data_end.date().isoformat()
            window = (max(window[0], first), min(window[1], last))
        key = (job.widget.id, window)
        cached = self._export_cache.get(key)
        if cached is None:
            cached = self._export_cache[key] = _joined(self._csv_chunks(job.widget, job.conditions))
        return Reply(200, iter(cached), "text/csv; charset=utf-8")


def _signature(name: str, query: dict[str, str]) -> str:
    signed = "&".join(f"{k}={query.get(k, '')}" for k in S3_SIGNED[:-1])
    return hmac.new(STORAGE_SECRET, f"{name}?{signed}".encode(), hashlib.sha256).hexdigest()


def _presigned(name: str, nonce: str) -> dict[str, str]:
    """The query string of an S3 pre-signed GET of `name`."""
    now = datetime.now(UTC)
    query = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": f"AKIA{nonce[:8].upper()}/{now:%Y%m%d}/us-east-1/s3/aws4_request",
        "X-Amz-Date": f"{now:%Y%m%dT%H%M%SZ}",
        "X-Amz-Expires": "300",
        "X-Amz-SignedHeaders": "host",
    }
    return {**query, "X-Amz-Signature": _signature(name, query)}


def _joined(chunks: Iterator[bytes], size: int = 1 << 20) -> list[bytes]:
    """Chunks regrouped into about `size` bytes each."""
    out: list[bytes] = []
    held: list[bytes] = []
    length = 0
    for chunk in chunks:
        held.append(chunk)
        length += len(chunk)
        if length >= size:
            out.append(b"".join(held))
            held, length = [], 0
    if held:
        out.append(b"".join(held))
    return out


def _field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return str(value)
    return '"' + str(value).replace('"', '""') + '"'


def _encode(value: int) -> str:
    return base64.urlsafe_b64encode(f"id:{value}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix("id:"))
    except Exception as exc:
        raise ValueError(cursor) from exc
