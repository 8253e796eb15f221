"""`python -m pipelines discover quantive`: the account's KPIs and the insights they use."""

from __future__ import annotations

from collections import Counter

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
    insight_listing = Listing(
        "insights (their KPI usages load with insight_ids)",
        ("insight id", "KPIs using it"),
        sorted(insights.items()),
    )
    snippet = "\n".join(
        [
            "kpi_ids = "
            + toml_list([str(k.get("id")) for k in kpis], [str(k.get("name")) for k in kpis]),
            "insight_ids = " + toml_list(sorted(insights)),
        ]
    )
    return Discovery(SOURCE, [kpi_listing, insight_listing], snippet)
