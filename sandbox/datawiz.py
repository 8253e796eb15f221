"""Datawiz simulator, after vendor-docs/datawiz-api.md.

Three hosts, as the real service has: the OAuth2 token endpoint (`POST /o/token/`, the
password and refresh_token grants, form-encoded), the builder API
(`POST /api/builder/create-table/`) and the BI API
(`POST /api/report/reports/<report>/widgets/<widget>/data/`). Every API call needs
`Authorization: Bearer <access_token>` of a live token and the numeric `client-id`
header of the account.

The data is a seeded retail chain computed on the fly: shops × products (each in a
category, each category run by a categorical manager) × days, every product selling
every day in every shop. A fact (day, shop, product) derives from a hash of the three,
in integer cents, so every aggregate is exact and any page of any table is produced
in O(page × facts per row). Tests revise a fact (a late correction) and compute the
expected rows with the same code the endpoints use.

Where the doc is silent the simulator does what the real service (Django REST
framework with django-oauth-toolkit) most plausibly does:
- token errors are RFC 6749 bodies: `invalid_client` (401) for a wrong client id or
  secret, `invalid_grant` (400) for a wrong username/password or a dead refresh token;
  refresh tokens rotate (a used one is dead);
- API errors are DRF bodies: `{"detail": …}` for 401/403/404, `{"<field>": [msg]}` for a
  400 validation error (an unknown metric or dimension names itself there);
- builder results are paged DRF-style: `?page=N&page_size=M` (default 500, max 10,000),
  absolute `next`/`previous` URLs, `count` = number of rows (of root rows for a tree);
  the body of a `next` request is the same query;
- row keys are `key_start` + the first dimension's id, then `&<dimension>=<id>` for each
  further one; `day_month_year` ids are ISO dates; `display_fields` may be `name`/`id`;
  with `options.expand_tree` each level's rows carry the next dimension as `children`;
- report widgets answer `{"dataSource": [...], "columns": [...]}` in one piece; with
  `interval: day_month_year` a row per entity and day carries `date`; each metric also
  comes as `<metric>_prev` over `prev_date_range` when one is given.
Only the dimensions shop, category, product, categorical_manager and day_month_year
are simulated (the others are valid keys the sandbox answers with a 400).

Where the doc is silent or contradicts itself the simulator speaks every plausible form:
`DIALECTS` lists the knobs (plain attributes, read per request; the first form is the
default above), docs/vendor-assumptions.md the doc lines each comes from."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs

from sandbox.datawiz_builder import BuilderAnswers
from sandbox.datawiz_data import (
    ACCOUNT_ID,
    CATEGORIES,
    CLIENT_ID,
    CLIENT_SECRET,
    DAY_NAMES,
    DIMENSION_TITLES,
    EXAMPLE_REPORTS,
    EXAMPLE_TABLES,
    MANAGERS,
    METRICS,
    PASSWORD,
    REPORT_WIDGETS,
    SHOPS,
    USERNAME,
    Query,
    Tokens,
    _column,
    _id,
    _invalid,
    _mix,
    _oauth_error,
)
from sandbox.datawiz_widgets import EXAMPLE_WIDGETS, WIDGET_DIALECTS, WIDGETS, WidgetPayloads
from sandbox.server import Reply, Request
from sandbox.simulator import Route, Simulator

# tests and the bench read the credentials, shops and example reports from here
__all__ = [
    "ACCOUNT_ID",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "EXAMPLE_REPORTS",
    "PASSWORD",
    "SHOPS",
    "USERNAME",
    "DatawizSim",
]
BUILDER = r"/api/builder/create-table/"
WIDGET = r"/api/report/reports/(?P<report>[^/]+)/widgets/(?P<widget>[^/]+)/data/"


class DatawizSim(BuilderAnswers, WidgetPayloads, Simulator):
    name = "datawiz"
    HOSTS = ("auth", "api", "bi")
    DIALECTS: ClassVar[dict[str, tuple[str, ...]]] = {
        # the day in a row's key: an ISO date, or an id (here the day's ordinal) with the
        # day spelled in `day_month_year__name` (ISO, 30.11.2026, 30/11/2026, 11/30/2026),
        # or no day in the key at all (`shop=1`), the day only in `day_month_year__name`
        "day_key": tuple(DAY_NAMES),
        # the doc's header POSTs the builder to api-new, every example to bi-new: the
        # builder on the api host, or on the bi host (the api host answering 404)
        "builder_host": ("api", "bi"),
        # DRF paging: page numbers with/without `count`, limit/offset, opaque cursors
        "paging": ("page", "page_no_count", "limit_offset", "cursor"),
        # a report widget's answer: bare {dataSource, columns} or DRF-wrapped in results
        "widget_shape": ("plain", "wrapped"),
        # metric values as JSON numbers or as decimal strings
        "numbers": ("json", "string"),
        # the token answer: as documented, token_type "bearer", or without expires_in
        "token": ("standard", "lowercase", "no_expiry"),
        # options.fixed_total/with_row_total: no total row, or one more root row (key
        # "total", no dimension fields) after the last
        "total_row": ("none", "last"),
        **WIDGET_DIALECTS,  # the answers of charts, trees and cards (datawiz_widgets.py)
    }

    ROUTES = (
        Route("auth", "POST", r"/o/token/", "_token", public=True),
        Route("api", "POST", BUILDER, "_builder"),
        Route("bi", "POST", BUILDER, "_builder"),
        Route("bi", "POST", WIDGET, "_widget"),
    )

    def setup(self, rows: int) -> None:
        self.first_day, self.last_day = self.data_start.date(), self.data_end.date()
        days = (self.last_day - self.first_day).days + 1
        n_products = max(12, rows // (len(SHOPS) * max(1, days)))
        categories = list(CATEGORIES)
        self.products = {
            100_000 + p: (f"Product {100_000 + p}", categories[p % len(categories)])
            for p in range(n_products)
        }
        self._by_category: dict[int, list[int]] = {c: [] for c in CATEGORIES}
        self._by_manager: dict[int, list[int]] = {m: [] for m in MANAGERS}
        for pid, (_, cat) in self.products.items():
            self._by_category[cat].append(pid)
            self._by_manager[CATEGORIES[cat][1]].append(pid)
        # benchmarks: keep each builder page's serialised rows, so the simulator is never
        # the bound (off by default: tests add corrections between runs)
        self.cache_pages = False
        self._page_cache: dict[tuple[Any, ...], bytes] = {}
        self._rows_cache: dict[str, tuple[int, Callable[[int], dict]]] = {}
        self.token_ttl = 36_000  # expires_in of new access tokens, seconds
        self.expire_after_calls: int | None = None  # kill live tokens after N more API calls
        self.corrections: dict[tuple[date, int, int], int] = {}  # turnover cents
        # test knobs, no dialects: the day rows' keys and names spell the day unreadably;
        # the builder ignores the page position (every page is the first, `next` too)
        self.unknown_shape = False
        self.stuck_paging = False
        # test knob: the middle row of every builder page and widget answer of 3+ rows is
        # "null", a "list", "sparse" (one more field) or has "children"; `odd_rows` counts them
        self.odd_row: str | None = None
        self.odd_rows = 0
        self.tokens = Tokens()
        self._calls = 0

    # -- lifecycle -------------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        return {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "username": USERNAME,
            "password": PASSWORD,
            "account_id": ACCOUNT_ID,
            "token_url": f"{self.auth.base_url}/o/token/",
            "api_url": self.api.base_url,
            "bi_url": self.bi.base_url,
            "tables": json.dumps(EXAMPLE_TABLES),
            "reports": json.dumps(EXAMPLE_REPORTS + EXAMPLE_WIDGETS),
        }

    # -- what tests use ---------------------------------------------------------------

    def fact(self, day: date, shop: int, product: int) -> tuple[int, int, int, int, int, int]:
        """(qty, turnover¢, self_price¢, receipts, plan¢, losses¢) of one product-shop-day."""
        h = _mix(self.seed, day.toordinal(), shop, product)
        qty = 1 + h % 20
        turnover = qty * (150 + (h >> 8) % 4_850)
        turnover = self.corrections.get((day, shop, product), turnover)
        self_price = turnover * (60 + (h >> 20) % 30) // 100
        receipts = 1 + qty // 3
        plan = turnover * (80 + (h >> 28) % 40) // 100 or 1
        losses = turnover * ((h >> 36) % 6) // 100
        return qty, turnover, self_price, receipts, plan, losses

    def correct(self, day: date, shop: int, product: int, turnover_cents: int) -> None:
        """A late correction: the turnover of one product in one shop on one day."""
        self.corrections[(day, shop, product)] = turnover_cents

    def table(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Every root row and the columns the builder answers `body` with (no paging)."""
        query = self._parse(body)
        if isinstance(query, Reply):
            raise ValueError(query.body)
        render = body.get("render_options") or {}
        count, row_at = self._rows(query, render)  # the default dialect: the ground truth
        return [row_at(i) for i in range(count)], self._columns(query)

    def revoke_tokens(self) -> None:
        with self._lock:
            self.tokens.access.clear()

    # -- auth ------------------------------------------------------------------------

    def _token(self, request: Request) -> Reply:
        if "application/x-www-form-urlencoded" not in request.headers.get("content-type", ""):
            return _oauth_error(400, "invalid_request", "Form-encoded body expected.")
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return _oauth_error(401, "invalid_client", "Client authentication failed.")
        grant = form.get("grant_type")
        with self._lock:
            if grant == "password":
                if form.get("username") != USERNAME or form.get("password") != PASSWORD:
                    return _oauth_error(400, "invalid_grant", "Invalid credentials given.")
            elif grant == "refresh_token":
                if form.get("refresh_token") not in self.tokens.refresh:
                    return _oauth_error(400, "invalid_grant", "Invalid refresh token.")
                self.tokens.refresh.discard(form["refresh_token"])
            else:
                return _oauth_error(400, "unsupported_grant_type", "Unsupported grant type.")
            access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
            self.tokens.access[access] = time.monotonic() + self.token_ttl
            self.tokens.refresh.add(refresh)
        answer: dict[str, Any] = {
            "access_token": access,
            "expires_in": self.token_ttl,
            "token_type": "bearer" if self.token == "lowercase" else "Bearer",
            "scope": "read write",
            "refresh_token": refresh,
        }
        if self.token == "no_expiry":
            del answer["expires_in"]
        return Reply.json(answer)

    def refuse(self, host: str, request: Request, args: dict[str, str]) -> Reply | None:
        """Auth and client-id checks, and a JSON object for a body; a builder route on the
        host that does not serve the builder in this dialect is an unknown URL (Django's
        404, before any auth)."""
        if request.path == BUILDER and host != self.builder_host:
            return Reply.json({"detail": "Not found."}, 404)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            expires = self.tokens.access.get(token)
            bearer = scheme.lower() == "bearer"  # RFC 7235: the scheme is case-insensitive
            live = bearer and expires is not None and expires > time.monotonic()
            if live and self.expire_after_calls is not None:
                self._calls += 1
                if self._calls > self.expire_after_calls:  # the token dies mid-run
                    self.tokens.access.clear()
                    self.expire_after_calls, self._calls, live = None, 0, False
        if not live:
            return Reply.json({"detail": "Authentication credentials were not provided."}, 401)
        if request.headers.get("client-id") != ACCOUNT_ID:
            return Reply.json({"detail": "You do not have permission to perform this action."}, 403)
        try:
            body = request.json()
        except ValueError:
            return Reply.json({"detail": "JSON parse error."}, 400)
        if not isinstance(body, dict):
            return _invalid("non_field_errors", "Invalid data. Expected a dictionary.")
        return None

    # -- report widgets ---------------------------------------------------------------

    def widget(self, report: str, widget: str, body: dict[str, Any]) -> tuple[list, list]:
        """The rows and columns a report widget answers `body` with, in the default dialect."""
        answer = self._widget_rows(report, widget, body)
        if isinstance(answer, Reply):
            raise ValueError(answer.body)
        return answer

    def _widget(self, request: Request, report: str, widget: str) -> Reply:
        body = request.json()  # a dictionary: `refuse` saw to it
        if (report, widget) in WIDGETS:
            return self._payload(report, widget, body)
        answer = self._widget_rows(report, widget, body)
        if isinstance(answer, Reply):
            return answer
        rows, columns = answer
        rows = self._odd(rows)
        if self.numbers == "string":
            for row in rows:
                row.update({k: str(v) for k, v in row.items() if type(v) in (int, float)})
        return self._wrapped({"dataSource": rows, "columns": columns}, len(rows))

    def _wrapped(self, payload: Any, count: int | None = None) -> Reply:
        """A widget's answer, bare or in DRF's envelope (the `widget_shape` dialect)."""
        if self.widget_shape == "wrapped":
            count = len(payload) if count is None else count
            payload = {"count": count, "next": None, "previous": None, "results": payload}
        return Reply.json(payload)

    def _widget_rows(
        self, report: str, widget: str, body: dict[str, Any]
    ) -> tuple[list, list] | Reply:
        dim = REPORT_WIDGETS.get((report, widget))
        if dim is None:
            return Reply.json({"detail": "Not found."}, 404)
        dim = body.get("group_by_level") or dim
        if dim not in ("shop", "category", "categorical_manager", "product"):
            return _invalid("group_by_level", f"Unsupported level '{dim}'.")
        query = self._widget_query(body)
        if isinstance(query, Reply):
            return query
        metrics, days, prev, lookups = query
        daily = body.get("interval") == "day_month_year"
        rows = []
        for day_group in [(d,) for d in days] if daily else [days]:
            query = Query((dim,), {dim: ["name"]}, lookups, tuple(metrics), day_group, False)
            members = self._members(query, {})
            for part in self._axes((dim,), members)[0]:
                fixed = dict(part)
                sums = self._sum(self._members(query, fixed))
                row = {"key": f"{dim}={_id(fixed[dim])}"}
                row[f"{dim}__name"] = self._display(dim, fixed[dim], "name")
                if daily:
                    row["date"] = day_group[0].isoformat()
                for metric in metrics:
                    row[metric] = METRICS[metric][1](sums)
                if prev is not None:
                    prev_query = Query((dim,), {}, lookups, tuple(metrics), prev, False)
                    prev_sums = self._sum(self._members(prev_query, fixed))
                    for metric in metrics:
                        row[f"{metric}_prev"] = METRICS[metric][1](prev_sums)
                rows.append(row)
        columns = [_column(f"{dim}__name", f"{DIMENSION_TITLES[dim]} Name", "string")]
        if daily:
            columns.append(_column("date", "Date", "date"))
        for metric in metrics:
            columns.append(_column(metric, METRICS[metric][0], "number"))
            if prev is not None:
                columns.append(_column(f"{metric}_prev", f"{METRICS[metric][0]} (prev)", "number"))
        return rows, columns

    def _widget_query(self, body: dict[str, Any]) -> tuple | Reply:
        """A widget body's metrics, days, previous days and id filters, validated."""
        metrics = tuple(body.get("metrics") or ["turnover"])
        unknown = [m for m in metrics if m not in METRICS]
        if unknown:
            return _invalid("metrics", f"Unknown metric '{unknown[0]}'.")
        days = self._report_days(body.get("date_range"), body.get("week_day"))
        if isinstance(days, Reply):
            return days
        prev = None
        if body.get("prev_date_range"):
            prev = self._report_days(body["prev_date_range"], body.get("week_day"))
            if isinstance(prev, Reply):
                return prev
        lookups = {
            "shop": {"include": set(body.get("shops") or [])},
            "category": {"include": set(body.get("categories") or [])},
            "product": {"include": set(body.get("products") or [])},
        }
        return metrics, days, prev, {k: v for k, v in lookups.items() if v["include"]}

    def _report_days(self, spec: Any, week_days: Any) -> tuple[date, ...] | Reply:
        try:
            lo, hi = date.fromisoformat(spec["from"]), date.fromisoformat(spec["to"])
        except (KeyError, TypeError, ValueError):
            return _invalid("date_range", "from and to must be YYYY-MM-DD.")
        lo, hi = max(lo, self.first_day), min(hi, self.last_day)
        days = tuple(lo + timedelta(days=i) for i in range((hi - lo).days + 1))
        if week_days:
            days = tuple(d for d in days if d.isoweekday() in set(week_days))
        return days
