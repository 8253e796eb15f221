"""`python -m pipelines discover kissmetrics`: the reports the token may run, and the
products they belong to (what `report_ids` and `product_ids` pick from)."""

from __future__ import annotations

from collections import Counter

from sources.common.discovery import Discovery, Listing, toml_list
from sources.kissmetrics import client, hal, metadata
from sources.kissmetrics.client import SOURCE, KissmetricsConfig


async def discover(config: KissmetricsConfig) -> Discovery:
    async with client.session(config) as http:
        reports = await client.Client(http, config).list_reports()
        linked = metadata.linked(reports, rel="product", api_url=config.api_url)
        products, _ = await metadata.read(http, linked, "product", config.page_concurrency)
    product_of = {str(r["id"]): hal.related_id(r, "product") for r in reports}
    rows = [
        (
            report.get("id"),
            report.get("name"),
            product_of[str(report["id"])],
            report.get("report_type"),
            ", ".join(str(c) for c in report.get("columns") or []) or "-",
        )
        for report in reports
    ]
    per_product = Counter(product_of.values())
    product_rows = [(p["id"], p.get("name"), per_product[str(p["id"])]) for p in products]
    ids = [str(report.get("id")) for report in reports]
    snippet = "report_ids = " + toml_list(ids, [str(report.get("name")) for report in reports])
    product_ids = [str(p["id"]) for p in products]
    names = [str(p.get("name") or "") for p in products]
    snippet += "\nproduct_ids = " + toml_list(product_ids, names)
    return Discovery(
        SOURCE,
        [
            Listing("reports", ("id", "name", "product", "type", "columns"), rows),
            Listing("products", ("id", "name", "reports"), product_rows),
        ],
        snippet,
    )
