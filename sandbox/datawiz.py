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

import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import parse_qs

from sandbox.datawiz_widgets import EXAMPLE_WIDGETS, WIDGET_DIALECTS, WIDGETS, WidgetPayloads
from sandbox.server import Reply, Request, VendorServer

CLIENT_ID = "dw-sandbox-client-4b7e"
CLIENT_SECRET = "dw-sandbox-secret-93f1c0a7d2"
USERNAME = "analyst@example.com"
PASSWORD = "dw-sandbox-password-58e2"
ACCOUNT_ID = "313"
DEFAULT_PAGE_SIZE = 500
MAX_PAGE_SIZE = 10_000
SHOPS = {1: "Store #1", 2: "Store #2", 3: "Store #3", 4: "Store #4"}
MANAGERS = {1: "Addams David", 2: "Gillmore Thomas", 3: "Blake Chloe"}
CATEGORIES = {  # id: (name, manager)
    5633: ("Dairy", 1),
    5634: ("Bakery", 1),
    5635: ("Beverages", 2),
    5636: ("Produce", 2),
    5637: ("Snacks", 3),
    5638: ("Household", 3),
}
DIMENSION_TITLES = {
    "shop": "Shop",
    "category": "Category",
    "product": "Product",
    "categorical_manager": "Category manager",
    "day_month_year": "Day / Month / Year",
}
DOCUMENTED_DIMENSIONS = frozenset(
    [
        "shop",
        "shop_group",
        "shop_marker",
        "category",
        "product",
        "producer",
        "brand",
        "product_marker",
        "assortment_type",
        "supplier",
        "bonus_type",
        "categorical_manager",
        "day_month_year",
        "month_year",
        "quarter",
        "month",
        "week",
        "week_day",
        "hour",
        "terminal",
        "cashier",
        "receipt_marker",
        "promo",
        "promo_type",
        "loyalty",
        "loyalty_format",
        "loyalty_group",
        "loss_type",
        "price_type",
    ]
)
HIERARCHY = ("categorical_manager", "category", "product")
METRICS = {  # key: (title, how to compute it from summed components)
    "turnover": ("Sales", lambda c: c[1] / 100),
    "qty": ("Sales Qty", lambda c: c[0]),
    "self_price": ("Cost of goods", lambda c: c[2] / 100),
    "profit": ("Profit", lambda c: (c[1] - c[2]) / 100),
    "receipts_qty": ("Receipts", lambda c: c[3]),
    "plan_turnover_complete_percent": (
        "% completed Planned Sales",
        lambda c: round(c[1] / c[4] * 100, 3) if c[4] else None,
    ),
    "losses_total_price_percent_part": (
        "% of Write-offs in monetary units",
        lambda c: round(c[5] / c[1] * 100, 3) if c[1] else None,
    ),
}
REPORT_WIDGETS = {  # (report, widget): the dimension of its rows
    ("shops-sales", "table"): "shop",
    ("category-sales", "table"): "category",
    ("products-sales", "table"): "product",
}
_MASK = (1 << 64) - 1


def _mix(*parts: int) -> int:
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = ((x ^ part) * 0xBF58476D1CE4E5B9) & _MASK
        x ^= x >> 31
    return x


@dataclass
class Tokens:
    access: dict[str, float] = field(default_factory=dict)  # token: expires (monotonic)
    refresh: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Query:
    """A builder query, validated: what to group, filter, sum, and over which days."""

    dims: tuple[str, ...]
    fields: dict[str, list[str]]
    lookups: dict[str, dict[str, set[Any]]]
    metrics: tuple[str, ...]
    days: tuple[date, ...]
    tree: bool


DAY_NAMES = {  # how `day_month_year__name` spells a day, per `day_key` form
    "iso": "%Y-%m-%d",
    "ordinal_iso": "%Y-%m-%d",
    "ordinal_dotted": "%d.%m.%Y",
    "ordinal_dmy": "%d/%m/%Y",
    "ordinal_mdy": "%m/%d/%Y",
    "none": "%Y-%m-%d",
}


class DatawizSim(WidgetPayloads):
    name = "datawiz"
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

    def __init__(self, rows: int, *, data_start: datetime, data_end: datetime, seed: int = 0):
        self.first_day, self.last_day = data_start.date(), data_end.date()
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
        self.seed = seed
        # benchmarks: keep each builder page's serialised rows, so the simulator is never
        # the bound (off by default: tests add corrections between runs)
        self.cache_pages = False
        self._page_cache: dict[tuple[Any, ...], bytes] = {}
        self._rows_cache: dict[str, tuple[int, Callable[[int], dict]]] = {}
        self.token_ttl = 36_000  # expires_in of new access tokens, seconds
        self.expire_after_calls: int | None = None  # kill live tokens after N more API calls
        self.corrections: dict[tuple[date, int, int], int] = {}  # turnover cents
        for knob, forms in self.DIALECTS.items():
            setattr(self, knob, forms[0])
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
        self._lock = threading.Lock()
        self.auth = VendorServer("datawiz-auth", seed=seed)
        self.api = VendorServer("datawiz-api", seed=seed + 1)
        self.bi = VendorServer("datawiz-bi", seed=seed + 2)
        self.auth.route("POST", r"/o/token/", self._token)
        for host in ("api", "bi"):
            getattr(self, host).route(
                "POST", r"/api/builder/create-table/", self._authed(self._builder, host)
            )
        self.bi.route(
            "POST",
            r"/api/report/reports/(?P<report>[^/]+)/widgets/(?P<widget>[^/]+)/data/",
            self._authed(self._widget),
        )

    # -- lifecycle -------------------------------------------------------------------

    @property
    def servers(self) -> list[VendorServer]:
        return [self.auth, self.api, self.bi]

    def env(self) -> dict[str, str]:
        import json

        return {
            "SOURCES__DATAWIZ__CLIENT_ID": CLIENT_ID,
            "SOURCES__DATAWIZ__CLIENT_SECRET": CLIENT_SECRET,
            "SOURCES__DATAWIZ__USERNAME": USERNAME,
            "SOURCES__DATAWIZ__PASSWORD": PASSWORD,
            "SOURCES__DATAWIZ__ACCOUNT_ID": ACCOUNT_ID,
            "SOURCES__DATAWIZ__TOKEN_URL": f"{self.auth.base_url}/o/token/",
            "SOURCES__DATAWIZ__API_URL": self.api.base_url,
            "SOURCES__DATAWIZ__BI_URL": self.bi.base_url,
            "SOURCES__DATAWIZ__START_DATE": self.first_day.isoformat(),
            "SOURCES__DATAWIZ__TABLES": json.dumps(EXAMPLE_TABLES),
            "SOURCES__DATAWIZ__REPORTS": json.dumps(EXAMPLE_REPORTS + EXAMPLE_WIDGETS),
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

    def _authed(
        self, handler: Callable[..., Reply], host: str | None = None
    ) -> Callable[..., Reply]:
        """Auth and client-id checks; a builder route on the host that does not serve the
        builder in this dialect is an unknown URL (Django's 404, before any auth)."""

        def wrapped(request: Request, **kwargs: str) -> Reply:
            if host is not None and host != self.builder_host:
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
                return Reply.json(
                    {"detail": "You do not have permission to perform this action."}, 403
                )
            try:
                body = request.json()
            except ValueError:
                return Reply.json({"detail": "JSON parse error."}, 400)
            if not isinstance(body, dict):
                return _invalid("non_field_errors", "Invalid data. Expected a dictionary.")
            return handler(request, body, **kwargs)

        return wrapped

    # -- builder ---------------------------------------------------------------------

    def _builder(self, request: Request, body: dict[str, Any]) -> Reply:
        query = self._parse(body)
        if isinstance(query, Reply):
            return query
        try:
            lo, size = self._page_position(request)
        except ValueError:
            return Reply.json({"detail": "Invalid page."}, 404)
        lo = 0 if self.stuck_paging else lo
        caching = self.cache_pages and not self.corrections and self._plain()
        body_key = json.dumps(body, sort_keys=True)
        counted = self._rows_cache.get(body_key) if caching else None
        if counted is None:  # counting walks the whole data set: cached for benchmarks
            counted = self._rows(query, body.get("render_options") or {}, spoken=True)
            if caching:
                self._rows_cache[body_key] = counted
        count, row_at = counted
        if lo < 0 or (lo >= count and lo > 0):
            return Reply.json({"detail": "Invalid page."}, 404)
        key = (body_key, lo, size)
        cached = self._page_cache.get(key) if caching else None
        if cached is None:
            rows = self._odd([row_at(i) for i in range(lo, min(count, lo + size))])
            cached = json.dumps(rows, separators=(",", ":")).encode()
            if caching:
                self._page_cache[key] = cached
        head: dict[str, Any] = (
            {} if self.paging in ("page_no_count", "cursor") else {"count": count}
        )
        base = f"{getattr(self, self.builder_host).base_url}{request.path}"
        head["next"] = self._link(base, lo + size, size, count)
        head["previous"] = self._link(base, lo - size, size, count) if lo else None
        head_bytes = json.dumps(head, separators=(",", ":")).encode()
        columns = json.dumps(self._columns(query), separators=(",", ":")).encode()
        results = b'{"dataSource":' + cached + b',"columns":' + columns + b"}"
        return Reply(200, head_bytes[:-1] + b',"results":' + results + b"}")

    def _page_position(self, request: Request) -> tuple[int, int]:
        """(first row, page size) of a builder request in the `paging` dialect."""
        if self.paging == "limit_offset":  # DRF LimitOffsetPagination: `page_size` unknown
            size = int(request.arg("limit", DEFAULT_PAGE_SIZE))
            return int(request.arg("offset", "0")), min(MAX_PAGE_SIZE, max(1, size))
        size = min(MAX_PAGE_SIZE, max(1, int(request.arg("page_size", DEFAULT_PAGE_SIZE))))
        if self.paging == "cursor":  # an opaque cursor: the offset, hex, behind a prefix
            cursor = request.arg("cursor")
            return (int(cursor.removeprefix("cD0"), 16) if cursor else 0), size
        page = int(request.arg("page", "1"))
        if page < 1:
            raise ValueError(page)
        return (page - 1) * size, size

    def _link(self, base: str, lo: int, size: int, count: int) -> str | None:
        if lo < 0 or lo >= count:
            return None
        if self.paging == "limit_offset":
            return f"{base}?limit={size}&offset={lo}"
        if self.paging == "cursor":
            return f"{base}?cursor=cD0{lo:x}&page_size={size}"
        return f"{base}?page={lo // size + 1}&page_size={size}"

    def _odd(self, rows: list[Any]) -> list[Any]:
        """The `odd_row` knob: the middle row of `rows` (3 or more) made odd."""
        if self.odd_row is None or len(rows) < 3:
            return rows
        middle = len(rows) // 2
        row = rows[middle]
        rows[middle] = {
            "null": None,
            "list": list(row.values()),
            "sparse": {**row, "promo_note": "late"},
            "children": {**row, "children": [{**row, "key": f"{row['key']}&product=1"}]},
        }[self.odd_row]
        with self._lock:
            self.odd_rows += 1
        return rows

    def _plain(self) -> bool:
        """Rows spelled as the default dialect (what the benchmark page cache keeps)."""
        return all(getattr(self, knob) == forms[0] for knob, forms in self.DIALECTS.items())

    def _parse(self, body: dict[str, Any]) -> Query | Reply:
        metrics = []
        for item in body.get("aggregate") or []:
            key = item.get("metric") if isinstance(item, dict) else None
            if key not in METRICS:
                return _invalid("aggregate", f"Unknown metric '{key}'.")
            metrics.append(key)
        dims, fields, lookups = [], {}, {}
        for item in body.get("group_by") or []:
            dim = item.get("dimension") if isinstance(item, dict) else None
            problem = _dimension_problem(dim)
            if problem:
                return _invalid("group_by", problem)
            if item.get("on", "row") != "row":
                return _invalid("group_by", "This sandbox only renders dimensions on rows.")
            dims.append(dim)
            fields[dim] = list(item.get("display_fields") or ["name"])
            lookups[dim] = _lookups(item.get("lookups"))
        for item in body.get("filters") or []:
            dim = item.get("dimension") if isinstance(item, dict) else None
            problem = _dimension_problem(dim)
            if problem:
                return _invalid("filters", problem)
            merged = lookups.setdefault(dim, {})
            for kind, ids in _lookups(item.get("lookups")).items():
                merged[kind] = merged.get(kind, set()) | ids
        if len(set(dims)) != len(dims):
            return _invalid("group_by", "A dimension can be grouped once.")
        days = self._date_range(body.get("date_range") or {"selected": "last_7_days"})
        if isinstance(days, Reply):
            return days
        if "day_month_year" in lookups:
            keep = lookups["day_month_year"]
            days = tuple(d for d in days if _kept(d.isoformat(), keep))
        options = body.get("options") or {}
        return Query(
            tuple(dims), fields, lookups, tuple(metrics), days, bool(options.get("expand_tree"))
        )

    def _date_range(self, spec: dict[str, Any]) -> tuple[date, ...] | Reply:
        selected = spec.get("selected")
        end = self.last_day
        if selected == "date":
            try:
                lo = date.fromisoformat(spec["date_from"])
                hi = date.fromisoformat(spec["date_to"])
            except (KeyError, TypeError, ValueError):
                return _invalid("date_range", "date_from and date_to must be YYYY-MM-DD.")
        elif selected in ("last_7_days", "last_30_days", "last_90_days"):
            hi, lo = end, end - timedelta(days=int(selected.split("_")[1]) - 1)
        elif selected == "all_time":
            lo, hi = self.first_day, end
        else:
            return _invalid("date_range", f"Unsupported selected key '{selected}'.")
        lo, hi = max(lo, self.first_day), min(hi, end)
        return tuple(lo + timedelta(days=i) for i in range((hi - lo).days + 1))

    # the rows of a query: independent axes (days, shops, product hierarchy) in group order

    def _members(self, query: Query, fixed: dict[str, Any]) -> dict[str, list[Any]]:
        """Ids of each dimension's members that pass the lookups and `fixed` values."""
        lk = query.lookups
        day = fixed.get("day_month_year")
        days = [day] if day is not None and day in query.days else [] if day else list(query.days)
        shops = [s for s in SHOPS if _kept(s, lk.get("shop")) and fixed.get("shop", s) == s]
        if "product" in fixed:
            candidates: list[int] = [fixed["product"]]
        elif "category" in fixed:
            candidates = self._by_category[fixed["category"]]
        elif "categorical_manager" in fixed:
            candidates = self._by_manager[fixed["categorical_manager"]]
        else:
            candidates = list(self.products)
        products = []
        for pid in candidates:
            values = self._hierarchy(pid)
            if all(_kept(values[d], lk.get(d)) for d in HIERARCHY) and all(
                fixed.get(d, values[d]) == values[d] for d in HIERARCHY
            ):
                products.append(pid)
        return {"day_month_year": days, "shop": shops, "product": products}

    def _axes(self, dims: tuple[str, ...], members: dict[str, list[Any]]) -> list[list[dict]]:
        axes: list[list[dict[str, Any]]] = []
        seen: set[str] = set()
        for dim in dims:
            if dim in HIERARCHY:
                if "hierarchy" in seen:
                    continue
                seen.add("hierarchy")
                grouped = [d for d in dims if d in HIERARCHY]
                tuples = dict.fromkeys(
                    tuple(self._hierarchy(pid)[d] for d in grouped) for pid in members["product"]
                )
                axes.append([dict(zip(grouped, t, strict=True)) for t in tuples])
            else:
                axes.append([{dim: v} for v in members[dim]])
        return axes

    def _hierarchy(self, pid: int) -> dict[str, int]:
        cat = self.products[pid][1]
        return {"product": pid, "category": cat, "categorical_manager": CATEGORIES[cat][1]}

    def _rows(
        self, query: Query, render: dict[str, Any], *, spoken: bool = False
    ) -> tuple[int, Callable[[int], dict]]:
        """(number of root rows, the row at an index); `spoken`: in the current dialect
        (an HTTP answer), else in the default one (the ground truth tests compare with)."""
        level_dims = query.dims[:1] if query.tree else query.dims
        members = self._members(query, {})
        axes = self._axes(level_dims, members)
        count = 1
        for axis in axes:
            count *= len(axis)
        if not axes:
            count = 1 if members["day_month_year"] else 0
        total = spoken and self.total_row == "last" and count > 0

        def row_at(index: int) -> dict[str, Any]:
            if index == count:
                return self._total(query, members)
            fixed: dict[str, Any] = {}
            for axis in reversed(axes):
                index, position = divmod(index, len(axis))
                fixed.update(axis[position])
            row = self._render(query, fixed, level_dims, render, level=1)
            return self._spoken(row, query) if spoken else row

        return count + total, row_at

    def _total(self, query: Query, members: dict[str, list[Any]]) -> dict[str, Any]:
        """The grand total row: every metric over the whole query, no dimension fields."""
        sums = self._sum(members)
        row: dict[str, Any] = {m: METRICS[m][1](sums) for m in query.metrics}
        row.update({"key": "total", "level": 1, "is_root": True})
        return self._spoken(row, query)

    def _spoken(self, row: dict[str, Any], query: Query) -> dict[str, Any]:
        """A rendered row (and its children) in the current dialect: the day's spelling in
        its key and name, numbers as strings."""
        day = "day_month_year"
        if (self.day_key != "iso" or self.unknown_shape) and f"{day}=" in row.get("key", ""):
            parts = dict(p.split("=", 1) for p in row["key"].split("&") if "=" in p)
            when = date.fromisoformat(parts[day])
            if self.day_key == "none" and not self.unknown_shape:
                del parts[day]
            if day in parts:
                parts[day] = (
                    f"d{when.toordinal() * 7:x}" if self.unknown_shape else str(when.toordinal())
                )
            row["key"] = "&".join(f"{k}={v}" for k, v in parts.items())
            if self.unknown_shape:
                name = f"day {when.toordinal() % 97}"
            else:
                name = when.strftime(DAY_NAMES[self.day_key])
            for field_name, value in row.items():  # the name and its clone_data copies
                if field_name != "key" and value == when.isoformat():
                    row[field_name] = name
        if self.numbers == "string":
            for metric in query.metrics:
                if row.get(metric) is not None:
                    row[metric] = str(row[metric])
        for child in row.get("children") or []:
            self._spoken(child, query)
        return row

    def _render(
        self,
        query: Query,
        fixed: dict[str, Any],
        level_dims: tuple[str, ...],
        render: dict[str, Any],
        level: int,
    ) -> dict[str, Any]:
        members = self._members(query, fixed)
        sums = self._sum(members)
        row: dict[str, Any] = {}
        for dim in level_dims:
            for name in query.fields[dim]:
                row[f"{dim}__{name}"] = self._display(dim, fixed[dim], name)
        for metric in query.metrics:
            row[metric] = METRICS[metric][1](sums)
        key_start = str(render.get("key_start") or "")
        parts = [f"{dim}={_id(fixed[dim])}" for dim in level_dims]
        if parts and key_start.endswith(f"{level_dims[0]}=") and level == 1:
            row["key"] = key_start + parts[0].split("=", 1)[1] + "".join(f"&{p}" for p in parts[1:])
        else:
            row["key"] = "&".join(parts)
        if level == 1:
            row.update(render.get("additional_data") or {"level": 1, "is_root": True})
        else:
            row.update({"level": level, "is_root": False})
        if query.tree:
            deeper = query.dims[: len(level_dims) + 1]
            has_children = len(deeper) > len(level_dims)
            row[f"{level_dims[-1]}__has_children"] = has_children
            row["children"] = []
            if has_children:
                child_members = self._members(query, fixed)
                for axis_row in itertools.product(*self._axes(deeper[-1:], child_members)):
                    child_fixed = dict(fixed)
                    for part in axis_row:
                        child_fixed.update(part)
                    row["children"].append(
                        self._render(query, child_fixed, deeper, {}, level=level + 1)
                    )
        for target, source in (render.get("clone_data") or {}).items():
            if source in row:
                row[target] = row[source]
        return row

    def _sum(self, members: dict[str, list[Any]]) -> list[int]:
        sums = [0, 0, 0, 0, 0, 0]
        for day in members["day_month_year"]:
            for shop in members["shop"]:
                for product in members["product"]:
                    for i, value in enumerate(self.fact(day, shop, product)):
                        sums[i] += value
        return sums

    def _display(self, dim: str, value: Any, name: str) -> Any:
        if name == "id":
            return _id(value)
        if dim == "day_month_year":
            return value.isoformat()
        if dim == "shop":
            return SHOPS[value]
        if dim == "categorical_manager":
            return MANAGERS[value]
        if dim == "category":
            return CATEGORIES[value][0]
        return self.products[value][0]

    def _columns(self, query: Query) -> list[dict[str, Any]]:
        columns = []
        for dim in query.dims:
            for name in query.fields[dim]:
                dtype = "date" if dim == "day_month_year" and name == "name" else "string"
                title = f"{DIMENSION_TITLES[dim]} {'Id' if name == 'id' else 'Name'}"
                columns.append(_column(f"{dim}__{name}", title, dtype))
        columns += [_column(m, METRICS[m][0], "number") for m in query.metrics]
        return columns

    # -- report widgets ---------------------------------------------------------------

    def widget(self, report: str, widget: str, body: dict[str, Any]) -> tuple[list, list]:
        """The rows and columns a report widget answers `body` with, in the default dialect."""
        answer = self._widget_rows(report, widget, body)
        if isinstance(answer, Reply):
            raise ValueError(answer.body)
        return answer

    def _widget(self, request: Request, body: dict[str, Any], report: str, widget: str) -> Reply:
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


# the two example builder tables and two report widgets the demo loads
EXAMPLE_TABLES: list[dict[str, Any]] = [
    {
        "name": "sales_by_shop",
        "aggregate": ["turnover", "qty", "profit", "receipts_qty"],
        "group_by": ["shop"],
    },
    {
        "name": "category_managers",
        "aggregate": ["turnover", "plan_turnover_complete_percent"],
        "group_by": [
            {"dimension": "categorical_manager", "display_fields": ["name"]},
            {"dimension": "category", "display_fields": ["name"]},
        ],
        "options": {"expand_tree": True},
    },
]
EXAMPLE_REPORTS: list[dict[str, Any]] = [
    {
        "report": "shops-sales",
        "widget": "table",
        "metrics": ["turnover", "qty"],
        "interval": "day_month_year",
    },
    {
        "report": "category-sales",
        "widget": "table",
        "metrics": ["turnover", "profit"],
        "group_by_level": "category",
    },
]


def _column(key: str, title: str, dtype: str) -> dict[str, Any]:
    return {
        "key": key,
        "dataIndex": key,
        "title": title,
        "sorter": True,
        "dtype": dtype,
        "parent_key": None,
        "default_visible": True,
    }


def _id(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _kept(value: Any, lookups: dict[str, set[Any]] | None) -> bool:
    if not lookups:
        return True
    text = _id(value)
    include = {str(v) for v in lookups.get("include", ())}
    exclude = {str(v) for v in lookups.get("exclude", ())}
    return (not include or text in include) and text not in exclude


def _lookups(value: Any) -> dict[str, set[Any]]:
    if not isinstance(value, dict):
        return {}
    return {k: set(v) for k, v in value.items() if k in ("include", "exclude") and v}


def _dimension_problem(dim: Any) -> str | None:
    if dim not in DOCUMENTED_DIMENSIONS:
        return f"Unknown dimension '{dim}'."
    if dim not in DIMENSION_TITLES:
        return f"Dimension '{dim}' is not available in this sandbox."
    return None


def _invalid(field_name: str, message: str) -> Reply:
    return Reply.json({field_name: [message]}, 400)


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return Reply.json({"error": error, "error_description": description}, status)
