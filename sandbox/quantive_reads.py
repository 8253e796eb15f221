"""`QuantiveSim`'s KPI selection: the filters of `GET /v1/kpi-snapshots` and the
account-wide `GET /v2/kpis/snapshots`.

`/v1/kpi-snapshots` selects KPIs by `ids`, `groupIds` (KPIs in any of these KPI groups),
`ungrouped=true` (KPIs in no group) and `mykpis=true` (KPIs the token's user owns: the
KPI body's `isOwner`), doc lines 57-66; given together they narrow each other (the doc
does not say; the source never combines them). None of them: 400; a boolean other than
`true`/`false`: 400. `/v2/kpis/snapshots` (doc lines 312-345) answers every KPI: its
filter "expressions coming from the request body" have no documented form, so a body is
ignored. Both answer in the `snapshots_shape` dialect, paging alike.

Seeded KPIs: KPI i is in group `GROUP_IDS[i % 3]`, except every fifth (i % 5 == 4), in
none; the token's user owns the even ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.server import Reply, Request

GROUP_IDS = tuple(f"60b0d2d09bd8a6aff9b639{n:02x}" for n in range(3))


class KpiSelection:
    """Mixed into `QuantiveSim` (which has `n_kpis`, `kpi_ids`, `index_of` and the
    snapshot answer `_snapshot_answer`)."""

    n_kpis: int
    kpi_ids: list[str]
    _snapshot_answer: Callable[[Request, list[str]], Reply]

    def kpi_groups(self, i: int) -> list[str]:
        return [] if i % 5 == 4 else [GROUP_IDS[i % 3]]

    def kpis_where(
        self, *, group_ids: tuple[str, ...] = (), ungrouped: bool = False, mykpis: bool = False
    ) -> list[int]:
        """The KPIs a filter selects (every KPI for none): the tests' ground truth."""
        return [
            i
            for i in range(self.n_kpis)
            if (not group_ids or set(self.kpi_groups(i)) & set(group_ids))
            and (not ungrouped or not self.kpi_groups(i))
            and (not mykpis or i % 2 == 0)
        ]

    def _selected(self, request: Request) -> list[str] | Reply:
        """The KPI ids a `/v1/kpi-snapshots` request selects, or its 400."""
        ids = [x for x in (request.arg("ids") or "").split(",") if x]
        groups = tuple(x for x in (request.arg("groupIds") or "").split(",") if x)
        flags: dict[str, bool] = {}
        for name in ("ungrouped", "mykpis"):
            value = request.arg(name)
            if value not in (None, "true", "false"):
                return _bad(f"{name} must be true or false")
            flags[name] = value == "true"
        if not (ids or groups or any(flags.values())):
            return _bad("ids, groupIds, ungrouped or mykpis is required")
        if not (groups or any(flags.values())):
            return ids  # ids alone: as asked, ones the account lacks answered with nothing
        chosen = {self.kpi_ids[i] for i in self.kpis_where(group_ids=groups, **flags)}
        return [kid for kid in (ids or self.kpi_ids) if kid in chosen]

    def _v2_snapshots(self, request: Request) -> Reply:
        return self._snapshot_answer(request, list(self.kpi_ids))


def _bad(message: str) -> Reply:
    payload: dict[str, Any] = {"statusCode": 400, "error": "Bad Request", "message": message}
    return Reply.json(payload, 400)
