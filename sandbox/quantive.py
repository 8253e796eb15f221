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
  `2022` (`iso`), as the group's first day (`first_day`), or with weeks 1-9 unpadded,
  `2022-W5` (`unpadded`).
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

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, ClassVar

from sandbox.quantive_kpis import AGGREGATIONS, NAMES, KpiBodies, kpi_id
from sandbox.quantive_kpis import error as _error
from sandbox.quantive_reads import KpiSelection
from sandbox.quantive_snapshots import TZ_PATTERN, SnapshotAnswers, group_first_day, unit
from sandbox.server import Reply, Request
from sandbox.simulator import Route, Simulator

__all__ = ["AGGREGATIONS", "NAMES", "QuantiveSim", "kpi_id", "unit"]

TOKEN = "qr-sandbox-token-3b8e61f0c7d24a95"
ACCOUNT_ID = "5be26318e5274a0007f17f61"
PREFIX = "/results/api"
MAX_KPIS = 200  # more rows make the span longer rather than the KPI list huge
PERIOD_TYPES = ("week", "month", "three-months", "year", "all-time")


@dataclass
class InsightDef:
    id: str
    kpis: list[int]


class QuantiveSim(KpiSelection, KpiBodies, SnapshotAnswers, Simulator):
    name = "quantive"
    API_PREFIX = PREFIX
    DIALECTS: ClassVar[dict[str, tuple[str, ...]]] = {
        "snapshots_shape": ("by_kpi", "items_grouped", "items_flat", "bare_list"),
        "snapshot_fields": ("plain", "annotated"),
        "snapshot_day": ("group", "date", "timestamp"),
        "group_label": ("iso", "first_day", "unpadded"),
        "value_type": ("number", "string"),
        "to_bound": ("inclusive", "exclusive"),
        "paging_params": ("skip_take", "offset_limit"),
        "list_total": ("totalCount", "count", "none"),
        "usages_shape": ("kpis", "items", "ids"),
        "projections_in_kpi": ("embedded", "absent"),
    }
    ROUTES = tuple(
        Route("api", "GET", PREFIX + pattern, handler)
        for pattern, handler in (
            (r"/v2/kpis", "_list_kpis"),
            (r"/v1/kpis/(?P<kid>[^/]+)", "_get_kpi"),
            (r"/v1/kpi-snapshots", "_snapshots"),
            (r"/v2/kpis/snapshots", "_v2_snapshots"),
            (r"/v1/kpis/(?P<kid>[^/]+)/projections", "_projections"),
            (r"/v1/kpis/(?P<kid>[^/]+)/statistics", "_statistics"),
            (r"/v1/insights/(?P<iid>[^/]+)/usages/kpis", "_usages"),
        )
    )

    def setup(self, rows: int) -> None:
        self.token = TOKEN
        self.account_id = ACCOUNT_ID
        self.payment_required = False
        self.forbidden_kpis: set[str] = set()
        self.max_take = 100
        self.max_url = 4000
        self.revised: dict[tuple[str, str], float] = {}
        self.ignores_skip = False
        self.drift = False
        self.unknown_shape = False
        self.snapshot_page = 20
        self.projection_counts: dict[str, int] = {}
        self.failing_projection_pages: set[str] = set()
        self.repeated_group = False
        self.unlisted = 0
        days = max(1, (self.data_end.date() - self.data_start.date()).days)
        self.n_kpis = max(3, min(MAX_KPIS, math.ceil(rows / days)))
        span = max(days, math.ceil(rows / self.n_kpis))
        # snapshots up to yesterday; tests move snapshot_end to today for "new data"
        self.snapshot_end: date = self.data_end.date() - timedelta(days=1)
        self.snapshot_start: date = self.snapshot_end - timedelta(days=span - 1)
        self.insights = [
            InsightDef(f"insight-{n}", [i for i in range(self.n_kpis) if i % 3 == n])
            for n in range(3)
        ]

    # -- lifecycle -------------------------------------------------------------------

    def settings(self) -> dict[str, str]:
        return {
            "base_url": self.base_url,
            "access_token": self.token,
            "account_id": self.account_id,
        }

    def start_date(self) -> date:
        return self.snapshot_start

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

    # -- protocol ------------------------------------------------------------------

    def refuse(self, host: str, request: Request, args: dict[str, str]) -> Reply | None:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _error(401, "Unauthorized", "invalid or expired access token")
        account = request.headers.get("gtmhub-accountid")
        if not account:
            return _error(400, "Bad Request", "gtmhub-accountId header is required")
        if account != self.account_id:
            return _error(403, "Forbidden", "the token has no access to this account")
        if self.payment_required:
            return _error(402, "Payment Required", "the account's subscription has expired")
        kid = args.get("kid")
        if kid is not None and kid in self.forbidden_kpis:
            return _error(403, "Forbidden", f"no permission to read KPI {kid}")
        return None

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
        if not TZ_PATTERN.match(tz):
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
