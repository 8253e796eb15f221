"""Which KPIs a run loads, and how their snapshots are asked for.

The KPIs: every KPI the token can read, the ones named in `kpi_ids`, or those a filter
of `GET /v1/kpi-snapshots` selects (doc lines 60-66): `group_ids` (`groupIds`, KPIs of
these KPI groups), `ungrouped` (KPIs in no group) or `mykpis` (KPIs the token's user
owns). The doc documents the filters only on that endpoint (`GET /v2/kpis` takes its
filters from an undocumented body expression), so the KPI list is read whole and the
filter applied to each KPI's own documented fields (`groups`, `isOwner`): `kpis`,
projections and statistics then hold the same KPIs as the snapshots, whose requests
carry the filter itself, without `ids`. The doc does not say how the API combines
`ids` and the filters, so at most one of the four may be set.

The snapshots: batches of `ids` (the default), or "account-wide" reads that name no
KPI and answer every selected KPI in one request per window: the v1 endpoint with a
filter, or `GET /v2/kpis/snapshots` (`v2_snapshots`; doc lines 312-345), which takes
no filter the doc describes, so it only reads every KPI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sources.common.errors import ConfigError, config_key_help
from sources.common.settings import optional_list
from sources.quantive.client import SOURCE, unread

V1_SNAPSHOTS = "/v1/kpi-snapshots"
V2_SNAPSHOTS = "/v2/kpis/snapshots"


@dataclass(frozen=True)
class Selection:
    kpi_ids: tuple[str, ...] = ()
    group_ids: tuple[str, ...] = ()
    ungrouped: bool = False
    mykpis: bool = False
    v2: bool = False

    @property
    def filter(self) -> dict[str, str]:
        """The filter as `/v1/kpi-snapshots` query parameters; {} when none is set."""
        if self.group_ids:
            return {"groupIds": ",".join(self.group_ids)}
        if self.ungrouped:
            return {"ungrouped": "true"}
        return {"mykpis": "true"} if self.mykpis else {}

    @property
    def account_wide(self) -> str | None:
        """The path whose one request answers every selected KPI, or None: ids only."""
        if self.v2:
            return V2_SNAPSHOTS
        return V1_SNAPSHOTS if self.filter else None

    def keeps(self, kpi: dict[str, Any], endpoint: str) -> bool:
        """Whether the filter selects this KPI, by its documented fields; a field in no
        readable form fails the KPI list rather than guess."""
        if self.group_ids or self.ungrouped:
            groups = kpi.get("groups") or []  # absent or null: in no group
            if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
                raise unread("expected a KPI's groups to be a list of group ids", groups, endpoint)
            return bool(set(groups) & set(self.group_ids)) if self.group_ids else not groups
        if self.mykpis:
            owner = kpi.get("isOwner")
            if not isinstance(owner, bool):
                seen = {"id": kpi.get("id"), "isOwner": owner}
                raise unread("expected a KPI's isOwner to be true or false", seen, endpoint)
            return owner
        return True


def selection(
    kpi_ids: object, group_ids: object, ungrouped: object, mykpis: object, v2: object
) -> Selection:
    """The settings as a `Selection`; a combination the doc leaves open is refused."""
    chosen = Selection(
        kpi_ids=tuple(dict.fromkeys(optional_list(SOURCE, "kpi_ids", kpi_ids))),  # each once
        group_ids=tuple(dict.fromkeys(optional_list(SOURCE, "group_ids", group_ids))),
        ungrouped=_flag("ungrouped", ungrouped),
        mykpis=_flag("mykpis", mykpis),
        v2=_flag("v2_snapshots", v2),
    )
    given = [
        key
        for key, value in (
            ("kpi_ids", chosen.kpi_ids),
            ("group_ids", chosen.group_ids),
            ("ungrouped", chosen.ungrouped),
            ("mykpis", chosen.mykpis),
        )
        if value
    ]
    if len(given) > 1:
        raise ConfigError(
            f"{' and '.join(given)} are set together: each chooses the KPIs to load and the doc "
            "does not say how the API combines them; set one",
            source=SOURCE,
            hint=config_key_help(SOURCE, given[-1]),
        )
    if chosen.v2 and given:
        raise ConfigError(
            f"v2_snapshots reads every KPI (GET /v2/kpis/snapshots documents no filter) "
            f"and cannot honour {given[0]}; unset one of them",
            source=SOURCE,
            hint=config_key_help(SOURCE, "v2_snapshots"),
        )
    return chosen


def _flag(key: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value is None:
        return False
    raise ConfigError(
        f"{key} = {value!r} is not true or false",
        source=SOURCE,
        hint=config_key_help(SOURCE, key),
    )
