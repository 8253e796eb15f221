"""`python -m pipelines discover quantive`: the account's KPIs, the KPI groups they are
in, and the insights they use."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sources.common.discovery import Discovery, Listing, toml_list
from sources.quantive import client
from sources.quantive.client import SOURCE, QuantiveConfig


async def discover(config: QuantiveConfig) -> Discovery:
    async with client.session(config) as http:
        kpis = [kpi async for items in client.paged(http, config, "/v2/kpis") for kpi in items]
    insights: Counter[str] = Counter()
    rows = []
    for kpi in kpis:
        link = kpi.get("insightLink") if isinstance(kpi.get("insightLink"), dict) else {}
        insight = link.get("insightName") or ""
        if insight:
            insights[insight] += 1
        rows.append((kpi.get("id"), kpi.get("name"), kpi.get("aggregation"), insight or "-"))
    kpi_listing = Listing("KPIs", ("id", "name", "aggregation", "insight"), rows)
    groups = _groups(kpis)
    ungrouped = sum(not _group_ids(k) for k in kpis)
    group_listing = Listing(
        "KPI groups (instead of kpi_ids: group_ids, or ungrouped / mykpis = true)",
        ("group id", "KPIs in it"),
        [*sorted(groups.items()), ("(none: ungrouped = true)", ungrouped)],
    )
    insight_listing = Listing(
        "insights (their KPI usages load with insight_ids)",
        ("insight id", "KPIs using it"),
        sorted(insights.items()),
    )
    snippet = "\n".join(
        [
            "kpi_ids = "
            + toml_list([str(k.get("id")) for k in kpis], [str(k.get("name")) for k in kpis]),
            "# or one filter instead of kpi_ids (the doc does not say how they combine):",
            "# group_ids = " + toml_list(sorted(groups)).replace("\n", "\n# "),
            f"# ungrouped = true   # {ungrouped} KPI(s) in no group",
            f"# mykpis = true      # {sum(k.get('isOwner') is True for k in kpis)} KPI(s) you own",
            "insight_ids = " + toml_list(sorted(insights)),
        ]
    )
    return Discovery(SOURCE, [kpi_listing, group_listing, insight_listing], snippet)


def _groups(kpis: list[dict[str, Any]]) -> Counter[str]:
    return Counter(group for kpi in kpis for group in _group_ids(kpi))


def _group_ids(kpi: dict[str, Any]) -> list[str]:
    groups = kpi.get("groups")
    return [g for g in groups if isinstance(g, str)] if isinstance(groups, list) else []
