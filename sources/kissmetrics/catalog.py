"""`python -m pipelines discover kissmetrics`: the reports the token may run."""

from __future__ import annotations

from sources.common.discovery import Discovery, Listing, toml_list
from sources.kissmetrics import client
from sources.kissmetrics.client import SOURCE, KissmetricsConfig


async def discover(config: KissmetricsConfig) -> Discovery:
    async with client.session(config) as http:
        reports = await client.Client(http, config).list_reports()
    rows = [
        (
            report.get("id"),
            report.get("name"),
            report.get("product_id"),
            report.get("report_type"),
            ", ".join(str(c) for c in report.get("columns") or []) or "-",
        )
        for report in reports
    ]
    ids = [str(report.get("id")) for report in reports]
    snippet = "report_ids = " + toml_list(ids, [str(report.get("name")) for report in reports])
    listing = Listing("reports", ("id", "name", "product", "type", "columns"), rows)
    return Discovery(SOURCE, [listing], snippet)
