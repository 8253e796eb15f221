"""Quantive Results simulator, after vendor-docs/quantive-kpis-api.txt.

One host serving the documented read endpoints under `/results/api`:
`GET /v2/kpis` (`{count, items, totalCount}`, paged with `skip`/`take`, `take` capped at
`max_take`), `GET /v1/kpis/{kpiId}`, `GET /v1/kpi-snapshots?ids&from&to&timeZone&groupBy`,
`GET /v2/kpis/snapshots` and the KPI filters (`sandbox/quantive_reads.py`),
`GET /v1/kpis/{kpiId}/projections` (`{items, totalCount}`),
`GET /v1/kpis/{kpiId}/statistics?type&timeZone` (`{currentPeriod, nextProjection,
previousPeriod}`), `GET /v1/insights/{id}/usages/kpis`. Every request needs
`Authorization: Bearer <token>` (else 401) and the account's `gtmhub-accountId`
(missing: 400, another account: 403).

Data is computed, not stored: KPI i has one snapshot per day over
[snapshot_start, snapshot_end]; its value derives from (i, day), so any batch and range
is produced in O(answer) time at any size. Tests move `snapshot_end`, revise values,
and read the ground truth back from here.

Knobs: `payment_required` (every call answers 402), `forbidden_kpis` (ids whose calls,
and snapshot batches naming them, answer 403), `max_take`, `max_url` (414 beyond),
`ignores_skip` (paged lists answer their first page whatever `skip` says), `drift`
(KPI #1's snapshot values arrive as text like `"1000.5 pts"`, every snapshot record
gains a `unitLabel`, and every KPI an undocumented expanded link `tasks` and a top-level
`sessions` count), `unknown_shape` (`/kpi-snapshots` answers a wrapper no reading of
the doc gives), `snapshot_page` (records per page of the `items_flat` shape),
`projection_counts` (KPI id → how many projections it has, instead of `i % 4`),
`failing_projection_pages` (KPI ids whose projection pages past the first answer 500),
`repeated_group` (KPI #0's first group comes twice more, as records dated a day inside
it and a timestamp on that day), `unlisted` (the last N KPIs are missing from `/v2/kpis`,
as if created after it was read; every other endpoint has them).

Where the doc is silent or contradicts itself, each reading is a dialect (`DIALECTS`,
default first; docs/vendor-assumptions.md lists the doc lines):
- `snapshots_shape`: `/kpi-snapshots` answers an object keyed by KPI id (`by_kpi`),
  `{items: [{kpiId, unit, snapshots | groups}]}` (`items_grouped`; even KPIs `snapshots`,
  odd `groups`), `{items: [flat records], totalCount}` paged by `skip`/`take`
  (`items_flat`), or a bare array of flat records (`bare_list`). Flat records carry kpiId.
- `snapshot_fields`: records are `{group, value}` (`plain`) or also carry `kpiId`,
  `timeZone`, `id` (`annotated`; projections and statistics then carry kpiId too).
- `snapshot_day`: a record names its group by `group` label, by `date` (the group's first
  day), or by `timestamp` (the UTC instant of that day's midnight in `timeZone`).
- `group_label`: week/month/quarter/year labels as `2022-W36`, `2022-09`, `2022-Q3`,
  `2022` (`iso`) or as the group's first day (`first_day`).
- `value_type`: snapshot values as JSON numbers or numeric strings.
- `to_bound`: `to` includes its day or not.
- `paging_params`: lists page by `skip`/`take` or `offset`/`limit`.
- `list_total`: lists give `{count: page, totalCount}` (the doc), only `count` = the
  total, or only `count` = the page's length (`none`).
- `usages_shape`: insight usages are KPI objects, `{items: [{kpiId, kpiName}],
  totalCount}`, or bare KPI ids.
- `projections_in_kpi`: a KPI body carries its `projections` or not.
A group's value is the mean of its days (the last day for KPIs whose aggregation is
`last`, the sum for `sum`); error bodies are `{"statusCode", "error", "message"}`."""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, ClassVar

import orjson
import pendulum

from sandbox.quantive_reads import KpiSelection
from sandbox.server import Reply, Request, VendorServer

TOKEN = "qr-sandbox-token-3b8e61f0c7d24a95"
ACCOUNT_ID = "5be26318e5274a0007f17f61"
PREFIX = "/results/api"
MAX_KPIS = 200  # more rows make the span longer rather than the KPI list huge
NAMES = (
    "New Customers per Day",
    "Monthly Recurring Revenue",
    "Net Promoter Score",
    "Churn Rate",
    "Active Users",
    "Support Tickets Closed",
    "Deploys to Production",
)
AGGREGATIONS = ("average", "sum", "last")
PERIOD_TYPES = ("week", "month", "three-months", "year", "all-time")
_TZ = re.compile(r"^UTC(?:[+-]\d{1,2}(?::\d{2})?)?$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def kpi_id(i: int) -> str:
    return f"5e8c27e3dcdd{i:012x}"


def _h(*parts: object) -> int:
    text = ":".join(str(p) for p in parts).encode()
    return int(hashlib.blake2b(text, digest_size=8).hexdigest(), 16)


@dataclass
class InsightDef:
    id: str
    kpis: list[int]


@dataclass
class QuantiveSim(KpiSelection):
    rows: int
    data_start: datetime
    data_end: datetime
    name: str = "quantive"
    seed: int = 0
    token: str = TOKEN
    account_id: str = ACCOUNT_ID
    payment_required: bool = False
    forbidden_kpis: set[str] = field(default_factory=set)
    max_take: int = 100
    max_url: int = 4000
    revised: dict[tuple[str, str], float] = field(default_factory=dict)
    ignores_skip: bool = False
    drift: bool = False
    unknown_shape: bool = False
    snapshot_page: int = 20
    projection_counts: dict[str, int] = field(default_factory=dict)
    failing_projection_pages: set[str] = field(default_factory=set)
    repeated_group: bool = False
    unlisted: int = 0
    snapshots_shape: str = "by_kpi"
    snapshot_fields: str = "plain"
    snapshot_day: str = "group"
    group_label: str = "iso"
    value_type: str = "number"
    to_bound: str = "inclusive"
    paging_params: str = "skip_take"
    list_total: str = "totalCount"
    usages_shape: str = "kpis"
    projections_in_kpi: str = "embedded"

    DIALECTS: ClassVar[dict[str, tuple[str, ...]]] = {
        "snapshots_shape": ("by_kpi", "items_grouped", "items_flat", "bare_list"),
        "snapshot_fields": ("plain", "annotated"),
        "snapshot_day": ("group", "date", "timestamp"),
        "group_label": ("iso", "first_day"),
        "value_type": ("number", "string"),
        "to_bound": ("inclusive", "exclusive"),
        "paging_params": ("skip_take", "offset_limit"),
        "list_total": ("totalCount", "count", "none"),
        "usages_shape": ("kpis", "items", "ids"),
        "projections_in_kpi": ("embedded", "absent"),
    }

    def __post_init__(self) -> None:
        days = max(1, (self.data_end.date() - self.data_start.date()).days)
        self.n_kpis = max(3, min(MAX_KPIS, math.ceil(self.rows / days)))
        span = max(days, math.ceil(self.rows / self.n_kpis))
        # snapshots up to yesterday; tests move snapshot_end to today for "new data"
        self.snapshot_end: date = self.data_end.date() - timedelta(days=1)
        self.snapshot_start: date = self.snapshot_end - timedelta(days=span - 1)
        self.insights = [
            InsightDef(f"insight-{n}", [i for i in range(self.n_kpis) if i % 3 == n])
            for n in range(3)
        ]
        self.api = VendorServer("quantive-api", seed=self.seed)
        self._routes()

    # -- lifecycle -------------------------------------------------------------------

    @property
    def servers(self) -> list[VendorServer]:
        return [self.api]

    @property
    def base_url(self) -> str:
        return f"{self.api.base_url}{PREFIX}"

    def env(self) -> dict[str, str]:
        return {
            "SOURCES__QUANTIVE__BASE_URL": self.base_url,
            "SOURCES__QUANTIVE__ACCESS_TOKEN": self.token,
            "SOURCES__QUANTIVE__ACCOUNT_ID": self.account_id,
            "SOURCES__QUANTIVE__START_DATE": self.snapshot_start.isoformat(),
        }

    # -- the data ------------------------------------------------------------------

    @property
    def kpi_ids(self) -> list[str]:
        return [kpi_id(i) for i in range(self.n_kpis)]

    def days(self) -> list[date]:
        count = (self.snapshot_end - self.snapshot_start).days + 1
        return [self.snapshot_start + timedelta(days=d) for d in range(max(0, count))]

    def value(self, i: int, day: date) -> float:
        if self.revised:
            revised = self.revised.get((kpi_id(i), day.isoformat()))
            if revised is not None:
                return revised
        return self._value(i, day.toordinal())

    def _value(self, i: int, ordinal: int) -> float:
        """Cheap arithmetic, not a hash: the simulator must serve 1M snapshots quickly."""
        base = 100 + (i * 7919 + self.seed * 104729) % 900
        noise = (i * 2654435761 + ordinal * 40503) % 1000
        return round(base + (ordinal % 97) * 0.5 + noise / 100, 2)

    def revise(self, kpi: str, day: date, value: float) -> None:
        self.revised[(kpi, day.isoformat())] = value

    def ground_truth(self) -> dict[tuple[str, str], float]:
        """Every daily snapshot: (kpi id, YYYY-MM-DD) → value."""
        return {
            (kpi_id(i), day.isoformat()): self.value(i, day)
            for i in range(self.n_kpis)
            for day in self.days()
        }

    def group_truth(self, group_by: str) -> dict[tuple[str, str], float]:
        """Every snapshot group: (kpi id, the group's first day) → its value."""
        truth: dict[tuple[str, str], float] = {}
        for i in range(self.n_kpis):
            grouped: dict[date, list[float]] = {}
            for day in self.days():
                grouped.setdefault(group_first_day(day, group_by), []).append(self.value(i, day))
            for start, values in grouped.items():
                truth[(kpi_id(i), start.isoformat())] = self._aggregate(i, values)
        return truth

    def links(self, i: int) -> dict[str, list[dict[str, Any]]]:
        links = {
            "goals": [self._goal(i, g) for g in range(i % 3)],
            "metrics": [self._metric(i, m) for m in range(i % 2)],
            "sessions": [self._session(i)] if i % 2 == 0 else [],
            "kpis": [self._linked(i - 1)] if i > 0 and i % 4 == 0 else [],
        }
        if self.drift:
            links["tasks"] = [{"id": f"task-{i}", "name": f"Task of KPI {i}"}]
        return links

    def projections(self, i: int) -> list[dict[str, Any]]:
        end = self.snapshot_end
        return [
            {
                "createdById": "5e8ed44adcddda0da9eab365",
                "date": (end + timedelta(days=30 * (p + 1))).isoformat(),
                "dateCreated": "2024-01-02T10:00:00Z",
                "dateModified": "2024-01-03T10:00:00Z",
                "id": f"6a0f{i:010x}{p:010x}",
                "modifiedById": "5e8ed44adcddda0da9eab365",
                "value": float(200 + 10 * p + i),
            }
            for p in range(self.projection_counts.get(kpi_id(i), i % 4))
        ]

    def statistics(self, i: int, period: str) -> dict[str, Any]:
        h = _h(i, period, self.snapshot_end)
        return {
            "currentPeriod": {"deltaPercentage": (h % 200) / 100 - 1, "value": h % 1000},
            "nextProjection": {"deltaPercentage": (h % 150) / 100 - 0.5, "value": h % 1200},
            "previousPeriod": {"deltaPercentage": (h % 100) / 100 - 0.5, "value": h % 900},
        }

    def kpi_json(self, i: int) -> dict[str, Any]:
        return (
            {
                "accountId": self.account_id,
                "aggregation": AGGREGATIONS[i % 3],
                "createdById": "5e8ed44adcddda0da9eab365",
                "currentUserAllowedActions": ["read", "update"],
                "dateCreated": "2024-01-02T10:00:00Z",
                "dateUpdated": "2024-03-04T11:00:00Z",
                "description": f"Tracks {NAMES[i % len(NAMES)].lower()}",
                "formatting": {"fractionSize": 2, "prefix": "$" if i % 2 else "", "suffix": ""},
                "groups": self.kpi_groups(i),
                "id": kpi_id(i),
                "insightLink": {
                    "fieldName": "count",
                    "insightName": f"insight-{i % 3}",
                    "settings": [],
                    "usedDataSourceBlueprintNames": ["salesforce"],
                },
                "isOwner": i % 2 == 0,
                "links": {"expanded": self.links(i)},
                "modifiedById": "5e8ed44adcddda0da9eab365",
                "name": f"{NAMES[i % len(NAMES)]} #{i}",
                "ownerId": "5e8ed44adcddda0da9eab365",
                "ownerIds": ["5e8ed44adcddda0da9eab365"],
                "targetOperator": "should_increase" if i % 2 else "should_decrease",
            }
            | ({"sessions": i % 5} if self.drift else {})
            | self._embedded(i)
        )

    def _embedded(self, i: int) -> dict[str, Any]:
        return {"projections": self.projections(i)} if self.projections_in_kpi == "embedded" else {}

    def _goal(self, i: int, g: int) -> dict[str, Any]:
        return {
            "access": {"inherits": True, "ownerPermissions": "OwnerPermission", "permissions": []},
            "accountId": self.account_id,
            "assignee": {"id": "5e8ed44adcddda0da9eab365", "name": "Ada", "type": "user"},
            "assignees": [{"id": "5e8ed44adcddda0da9eab365", "name": "Ada", "type": "user"}],
            "attainment": round(((i + g) % 10) / 10, 1),
            "dateFrom": "2024-01-01",
            "dateTo": "2024-03-31",
            "id": f"70{i:010x}{g:012x}",
            "name": f"Goal {g} of KPI {i}",
            "ownerIds": ["5e8ed44adcddda0da9eab365"],
            "private": False,
            "sessionId": f"6093fdabd251f2{i % 5:010x}",
        }

    def _metric(self, i: int, m: int) -> dict[str, Any]:
        return {
            "actual": float(i + m),
            "cascadeType": "absolute_value",
            "goalId": f"70{i:010x}{0:012x}",
            "goalName": f"Goal 0 of KPI {i}",
            "name": f"Metric {m} of KPI {i}",
            "sessionId": f"6093fdabd251f2{i % 5:010x}",
            "tags": [{"id": "t1", "name": "okr", "title": "OKR"}],
            "target": 100,
            "targetOperator": "at_least",
        }

    def _session(self, i: int) -> dict[str, Any]:
        return {
            "end": "2024-03-31",
            "id": f"6093fdabd251f2{i % 5:010x}",
            "permissions": [{"grant": "Binary", "principalId": "p1", "principalKind": "user"}],
            "start": "2024-01-01",
            "status": "open",
            "title": f"Q1 session {i % 5}",
        }

    def _linked(self, i: int) -> dict[str, Any]:
        return {"id": kpi_id(i), "name": f"{NAMES[i % len(NAMES)]} #{i}", "mentions": {}}

    def index_of(self, kid: str) -> int | None:
        try:
            i = int(kid[12:], 16) if kid.startswith("5e8c27e3dcdd") and len(kid) == 24 else -1
        except ValueError:
            return None
        return i if 0 <= i < self.n_kpis else None

    # -- protocol ------------------------------------------------------------------

    def _routes(self) -> None:
        p = PREFIX
        self.api.route("GET", rf"{p}/v2/kpis", self._authed(self._list_kpis))
        self.api.route("GET", rf"{p}/v1/kpis/(?P<kid>[^/]+)", self._authed(self._get_kpi))
        self.api.route("GET", rf"{p}/v1/kpi-snapshots", self._authed(self._snapshots))
        self.api.route("GET", rf"{p}/v2/kpis/snapshots", self._authed(self._v2_snapshots))
        self.api.route(
            "GET", rf"{p}/v1/kpis/(?P<kid>[^/]+)/projections", self._authed(self._projections)
        )
        self.api.route(
            "GET", rf"{p}/v1/kpis/(?P<kid>[^/]+)/statistics", self._authed(self._statistics)
        )
        self.api.route(
            "GET", rf"{p}/v1/insights/(?P<iid>[^/]+)/usages/kpis", self._authed(self._usages)
        )

    def _authed(self, handler):
        def wrapped(request: Request, **kwargs: str) -> Reply:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return _error(401, "Unauthorized", "invalid or expired access token")
            account = request.headers.get("gtmhub-accountid")
            if not account:
                return _error(400, "Bad Request", "gtmhub-accountId header is required")
            if account != self.account_id:
                return _error(403, "Forbidden", "the token has no access to this account")
            if self.payment_required:
                return _error(402, "Payment Required", "the account's subscription has expired")
            kid = kwargs.get("kid")
            if kid is not None and kid in self.forbidden_kpis:
                return _error(403, "Forbidden", f"no permission to read KPI {kid}")
            return handler(request, **kwargs)

        return wrapped

    def _paging(self, request: Request, cap: int | None = None) -> tuple[int, int] | Reply:
        """(skip, take) from the dialect's parameters; a server that ignores skip
        always starts at 0."""
        names = ("skip", "take") if self.paging_params == "skip_take" else ("offset", "limit")
        cap = cap or self.max_take
        try:
            skip = int(request.arg(names[0], "0"))
            take = int(request.arg(names[1], str(cap)))
        except ValueError:
            return _error(400, "Bad Request", f"{names[0]} and {names[1]} must be integers")
        if skip < 0 or take < 1:
            return _error(400, "Bad Request", f"{names[0]} must be >= 0 and {names[1]} >= 1")
        return (0 if self.ignores_skip else skip), min(take, cap)

    def _page(self, items: list[Any], total: int) -> dict[str, Any]:
        """A page of a list in the `list_total` dialect."""
        if self.list_total == "count":
            return {"count": total, "items": items}
        if self.list_total == "none":
            return {"count": len(items), "items": items}
        return {"count": len(items), "items": items, "totalCount": total}

    def _list_kpis(self, request: Request) -> Reply:
        paging = self._paging(request)
        if isinstance(paging, Reply):
            return paging
        skip, take = paging
        listed = self.n_kpis - self.unlisted
        items = [self.kpi_json(i) for i in range(skip, min(skip + take, listed))]
        return Reply.json(self._page(items, listed))

    def _get_kpi(self, request: Request, kid: str) -> Reply:
        i = self.index_of(kid)
        if i is None:
            return _error(404, "Not Found", f"KPI {kid} not found")
        return Reply.json(self.kpi_json(i))

    def _projections(self, request: Request, kid: str) -> Reply:
        i = self.index_of(kid)
        if i is None:
            return _error(404, "Not Found", f"KPI {kid} not found")
        paging = self._paging(request)
        if isinstance(paging, Reply):
            return paging
        skip, take = paging
        if skip and kid in self.failing_projection_pages:
            return _error(500, "Internal Server Error", f"projections of {kid} past {skip}")
        every = self.projections(i)
        items = [
            {k: p[k] for k in ("date", "id", "value")} | self._annotations(kid)
            for p in every[skip : skip + take]
        ]
        if self.list_total == "totalCount":  # the doc's KpiProjectionsResponse has no count
            return Reply.json({"items": items, "totalCount": len(every)})
        return Reply.json(self._page(items, len(every)))

    def _annotations(self, kid: str, tz: str | None = None) -> dict[str, Any]:
        """The fields an `annotated` record carries about itself."""
        if self.snapshot_fields != "annotated":
            return {}
        return {"kpiId": kid} if tz is None else {"kpiId": kid, "timeZone": tz}

    def _statistics(self, request: Request, kid: str) -> Reply:
        i = self.index_of(kid)
        if i is None:
            return _error(404, "Not Found", f"KPI {kid} not found")
        period = request.arg("type")
        if period not in PERIOD_TYPES:
            return _error(400, "Bad Request", f"type must be one of {', '.join(PERIOD_TYPES)}")
        tz = request.arg("timeZone", "UTC") or ""
        if not _TZ.match(tz):
            return _error(400, "Bad Request", "timeZone must look like UTC+1")
        return Reply.json(self.statistics(i, period) | self._annotations(kid, tz))

    def _usages(self, request: Request, iid: str) -> Reply:
        insight = next((x for x in self.insights if x.id == iid), None)
        if insight is None:
            return _error(404, "Not Found", f"insight {iid} not found")
        if self.usages_shape == "ids":
            return Reply.json([kpi_id(i) for i in insight.kpis])
        if self.usages_shape == "items":
            items = [
                {"kpiId": kpi_id(i), "kpiName": self._linked(i)["name"], "insightId": iid}
                for i in insight.kpis
            ]
            return Reply.json({"items": items, "totalCount": len(items)})
        return Reply.json([self._linked(i) for i in insight.kpis])

    def _snapshots(self, request: Request) -> Reply:
        ids = self._selected(request)
        return ids if isinstance(ids, Reply) else self._snapshot_answer(request, ids)

    def _snapshot_answer(self, request: Request, ids: list[str]) -> Reply:
        url_length = len(request.path) + sum(
            len(k) + len(v) + 2 for k, vs in request.query.items() for v in vs
        )
        if url_length > self.max_url:
            return _error(414, "URI Too Long", f"request URL of {url_length} characters")
        start, end = request.arg("from"), request.arg("to")
        if not (start and end and _DAY.match(start) and _DAY.match(end)):
            return _error(400, "Bad Request", "from and to must be dates: YYYY-MM-DD")
        tz = request.arg("timeZone", "UTC") or "UTC"
        if not _TZ.match(tz):
            return _error(400, "Bad Request", "timeZone must look like UTC-2")
        group_by = request.arg("groupBy") or "day"
        if group_by not in GROUP_LABELS:
            return _error(400, "Bad Request", f"groupBy must be one of {', '.join(GROUP_LABELS)}")
        forbidden = [kid for kid in ids if kid in self.forbidden_kpis]
        if forbidden:
            return _error(403, "Forbidden", f"no permission to read KPI {forbidden[0]}")
        first = max(date.fromisoformat(start), self.snapshot_start)
        last = date.fromisoformat(end) - timedelta(days=self.to_bound == "exclusive")
        last = min(last, self.snapshot_end)
        days = [first + timedelta(days=d) for d in range((last - first).days + 1)]
        if self._plain():
            return Reply(200, orjson.dumps(self._plain_body(ids, days, group_by)))
        by_kpi = {
            kid: self._records(kid, i, days, group_by, tz)
            for kid in ids
            if (i := self.index_of(kid)) is not None  # one the account lacks: nothing
        }
        if self.unknown_shape:
            return Reply.json({"result": {"kpiSnapshots": by_kpi}, "version": 2})
        return self._shaped(request, by_kpi)

    def _plain(self) -> bool:
        """The default dialect, served on a fast path (the benchmarks ask for 1M rows)."""
        defaults = all(getattr(self, knob) == forms[0] for knob, forms in self.DIALECTS.items())
        return defaults and not (self.drift or self.unknown_shape or self.repeated_group)

    def _plain_body(
        self, ids: list[str], days: list[date], group_by: str
    ) -> dict[str, list[dict[str, Any]]]:
        label = GROUP_LABELS[group_by]
        day_keys = [(d.isoformat(), d.toordinal()) for d in days]
        body: dict[str, list[dict[str, Any]]] = {}
        for kid in ids:
            i = self.index_of(kid)
            if i is None:
                continue  # a KPI the account does not have: nothing, as a filter would
            if group_by == "day" and not self.revised:
                body[kid] = [
                    {"group": text, "value": self._value(i, ordinal)} for text, ordinal in day_keys
                ]
                continue
            grouped: dict[str, list[float]] = {}
            for d in days:
                grouped.setdefault(label(d), []).append(self.value(i, d))
            body[kid] = [
                {"group": g, "value": self._aggregate(i, values)} for g, values in grouped.items()
            ]
        return body

    def _records(
        self, kid: str, i: int, days: list[date], group_by: str, tz: str
    ) -> list[dict[str, Any]]:
        """One KPI's snapshot records in the current dialect."""
        grouped: dict[date, list[float]] = {}
        for d in days:
            grouped.setdefault(group_first_day(d, group_by), []).append(self.value(i, d))
        records = []
        for start, values in grouped.items():
            record: dict[str, Any] = self._day_field(start, group_by, tz)
            value = self._aggregate(i, values) if group_by != "day" else values[0]
            record["value"] = self._value_text(i, value)
            if self.drift:
                record["unitLabel"] = "pts"
            if self.snapshot_fields == "annotated":
                record |= {"kpiId": kid, "timeZone": tz, "id": f"{kid[-8:]}{start:%Y%m%d}"}
            records.append(record)
        first = group_first_day(self.snapshot_start, group_by)
        if self.repeated_group and i == 0 and first in grouped:  # the first group, twice more
            inside = (first + timedelta(days=1)).isoformat()
            again = {"value": records[0]["value"]}
            records += [{"date": inside} | again, {"date": f"{inside}T10:00:00Z"} | again]
        return records

    def _day_field(self, start: date, group_by: str, tz: str) -> dict[str, Any]:
        if self.snapshot_day == "date":
            return {"date": start.isoformat()}
        if self.snapshot_day == "timestamp":
            midnight = datetime.combine(start, time(), tzinfo=_offset(tz))
            return {"date": midnight.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")}
        if self.group_label == "first_day":
            return {"group": start.isoformat()}
        return {"group": GROUP_LABELS[group_by](start)}

    def _value_text(self, i: int, value: float) -> Any:
        if self.drift and i == 1:
            return f"{value} pts"
        return str(value) if self.value_type == "string" else value

    def _shaped(self, request: Request, by_kpi: dict[str, list[dict[str, Any]]]) -> Reply:
        """The records of a batch in the `snapshots_shape` dialect."""
        if self.snapshots_shape == "by_kpi":
            return Reply.json(by_kpi)
        if self.snapshots_shape == "items_grouped":
            items = [
                {
                    "kpiId": kid,
                    "unit": unit(kid),
                    ("snapshots" if n % 2 == 0 else "groups"): records,
                }
                for n, (kid, records) in enumerate(by_kpi.items())
            ]
            return Reply.json({"items": items, "totalCount": len(items)})
        flat = [{"kpiId": kid} | r for kid, records in by_kpi.items() for r in records]
        if self.snapshots_shape == "bare_list":
            return Reply.json(flat)
        paging = self._paging(request, cap=self.snapshot_page)
        if isinstance(paging, Reply):
            return paging
        skip, take = paging
        return Reply.json({"items": flat[skip : skip + take], "totalCount": len(flat)})

    @staticmethod
    def _aggregate(i: int, values: list[float]) -> float:
        if AGGREGATIONS[i % 3] == "last":
            return values[-1]
        if AGGREGATIONS[i % 3] == "sum":
            return round(sum(values), 2)
        return round(sum(values) / len(values), 4)


def unit(kid: str) -> str:
    """The `unit` an `items_grouped` item gives its KPI's snapshots."""
    return "percent" if int(kid[-1], 16) % 2 else "points"


def group_first_day(day: date, group_by: str) -> date:
    """The first day of the `group_by` period holding `day` (ISO weeks), by pendulum."""
    if group_by == "day":
        return day
    first = pendulum.date(day.year, day.month, day.day)
    first = first.start_of("week") if group_by == "week" else first.first_of(group_by)
    return date(first.year, first.month, first.day)


def _offset(tz: str) -> timezone:
    """`UTC+3`, `UTC-2:30` → a fixed offset."""
    sign, rest = (tz[3], tz[4:]) if len(tz) > 3 else ("+", "0")
    hours, _, minutes = rest.partition(":")
    delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
    return timezone(-delta if sign == "-" else delta)


GROUP_LABELS = {
    "day": lambda d: d.isoformat(),
    "week": lambda d: f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}",
    "month": lambda d: f"{d.year}-{d.month:02d}",
    "quarter": lambda d: f"{d.year}-Q{(d.month - 1) // 3 + 1}",
    "year": lambda d: str(d.year),
}


def _error(status: int, error: str, message: str) -> Reply:
    return Reply.json({"statusCode": status, "error": error, "message": message}, status)
