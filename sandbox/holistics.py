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
import re
import time
from typing import Any, ClassVar

from sandbox.holistics_jobs import JOB_STATES, ExportJobs, Job
from sandbox.holistics_metadata import N_ALERTS as N_ALERTS
from sandbox.holistics_metadata import N_GROUPS as N_GROUPS
from sandbox.holistics_metadata import N_SCHEDULES as N_SCHEDULES
from sandbox.holistics_metadata import N_USERS as N_USERS
from sandbox.holistics_metadata import MetadataSim, _error
from sandbox.holistics_objects import ObjectsSim
from sandbox.holistics_widgets import REGIONS, WidgetData
from sandbox.server import Reply, Request, RouteLimit
from sandbox.simulator import Route, Simulator

API_KEY = "hol-sandbox-key-3b9e61f04c7d4a2e"
PREFIX = "/api/v2"
LEVELS = {1: 120, 2: 60, 3: 20}


def _api(method: str, pattern: str, handler: str, level: int = 1) -> Route:
    return Route("api", method, PREFIX + pattern, handler, level=level)


class HolisticsSim(MetadataSim, ObjectsSim, WidgetData, ExportJobs, Simulator):
    name = "holistics"
    HOSTS = ("api", "storage")
    API_PREFIX = PREFIX
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

    ROUTES = (
        _api("GET", r"/users/me", "_me"),
        _api("GET", r"/dashboards", "_list_dashboards"),
        _api("GET", r"/dashboards/(?P<did>\d+)", "_get_dashboard", 2),
        _api("POST", r"/dashboard_widgets/(?P<wid>\d+)/submit_export", "_submit_export", 3),
        _api("GET", r"/jobs", "_list_jobs"),
        _api("GET", r"/jobs/(?P<jid>\d+)", "_get_job"),
        _api("GET", r"/jobs/(?P<jid>\d+)/logs", "_job_logs"),
        _api("GET", r"/exports/download", "_download", 2),
        *(_api(*route) for route in MetadataSim.METADATA_ROUTES),
        *(_api(*route) for route in ObjectsSim.OBJECT_ROUTES),
        # the storage host: signed URLs, no key
        Route("storage", "GET", r"/files/(?P<token>[0-9a-f]+)/(?P<name>[^/]+)", "_file", True),
        Route("storage", "GET", r"/signed/(?P<name>[^/]+)", "_signed", True),
    )

    def setup(self, rows: int) -> None:
        self.days = max(1, (self.data_end.date() - self.data_start.date()).days + 1)
        self.api.route_limit = self._route_limit
        self.api.rate_limited = _rate_limited
        self.api_key = API_KEY
        self.levels = dict(LEVELS)
        self.quota_window = 60.0
        self.spent_quota = 0
        self.job_latency = 0.0
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
        self._objects_setup()
        self._build(rows)

    # -- data ------------------------------------------------------------------------

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

    def settings(self) -> dict[str, str]:
        return {
            "base_url": self.base_url,
            "api_key": self.api_key,
            "dashboard_ids": "[1, 2]",
            "widget_ids": "[105]",
            # opt-in paths, cheap here: the demo and every full load read them
            "data_model_projects": "[1, 2]",
            "dependency_types": '["DataSource", "DataSet", "DataModel"]',
            "user_attribute_entries": "true",
            "list_filters": '{"groups": {"include_users": true}}',
        }

    # -- protocol --------------------------------------------------------------------

    def _route_limit(self, request: Request) -> RouteLimit | None:
        """Holistics limits each endpoint on its own, in the level of its route."""
        if self.quota_window <= 0:
            return None
        route = next(
            (
                r
                for r in self.ROUTES
                if r.host == "api"
                and r.method == request.method
                and re.fullmatch(r.pattern, request.path)
            ),
            None,
        )
        bucket = f"{route.method} {route.pattern}" if route else f"{request.method} other"
        limit = self.levels[route.level if route else 1]
        return bucket, limit, self.quota_window, self.reset_format, self.spent_quota

    def refuse(self, host: str, request: Request, args: dict[str, str]) -> Reply | None:
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
        return None

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


def _encode(value: int) -> str:
    return base64.urlsafe_b64encode(f"id:{value}".encode()).decode().rstrip("=")


def _decode(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix("id:"))
    except Exception as exc:
        raise ValueError(cursor) from exc


def _rate_limited() -> Reply:
    return _error(429, "RateLimitExceedError", "Rate limit exceeded, retry later")
