"""`python -m pipelines discover datawiz`: what the doc's tables offer — reports and their
widgets (with what each draws, and so the columns it loads), dimensions — and the metrics
its examples name. The API has no list endpoint for any of them, so the one call made is
a token grant and a cheap builder query, to show the credentials work."""

from __future__ import annotations

import asyncio

import pendulum

from sources.common.discovery import Discovery, Listing
from sources.datawiz import client, payloads
from sources.datawiz.client import SOURCE, DatawizConfig
from sources.datawiz.doc_keys import DIMENSIONS, DOC_METRICS, REPORT_WIDGETS


def discover(config: DatawizConfig) -> Discovery:
    asyncio.run(client.probe(config, pendulum.yesterday("UTC").date()))
    reports = Listing(
        "reports and widgets (doc: Table of reports and report widgets)",
        ("report", "widgets"),
        [(report, ", ".join(widgets)) for report, widgets in REPORT_WIDGETS.items()],
    )
    kinds = Listing(
        "widget types and the columns each loads (docs/sources/datawiz.md)",
        ("widget", "draws", "columns"),
        [(widget, kind, _columns(kind)) for widget, kind in payloads.KINDS.items()],
    )
    dimensions = Listing(
        "dimensions (doc: Table of dimension keys)",
        ("key", "name"),
        sorted(DIMENSIONS.items()),
    )
    metrics = Listing(
        "metrics named in the doc's examples (the API accepts others; a wrong one is reported)",
        ("metric",),
        [(m,) for m in DOC_METRICS],
    )
    snippet = "\n".join(
        [
            "[[sources.datawiz.tables]]",
            'name = "sales_by_shop"',
            'aggregate = ["turnover", "qty", "profit"]',
            'group_by = ["shop"]',
            "",
            "[[sources.datawiz.reports]]",
            'report = "shops-sales"',
            'widget = "table"',
            'metrics = ["turnover", "qty"]',
            'interval = "day_month_year"',
            "",
            "[[sources.datawiz.reports]]  # a chart: one row per point (long form)",
            'report = "shop-card"',
            'widget = "chart"',
            'metrics = ["turnover", "qty"]',
            "shops = [1]",
        ]
    )
    return Discovery(SOURCE, [reports, kinds, dimensions, metrics], snippet)


def _columns(kind: str) -> str:
    if kind == payloads.TABLE:
        return "the widget's own (its columns metadata)"
    return ", ".join(column["dataIndex"] for column in payloads.columns(kind))
