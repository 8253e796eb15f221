"""`python -m pipelines discover holistics`: dashboards and their widgets, with whether
each widget may be exported (`permissions.export_data`) by the key's owner."""

from __future__ import annotations

import asyncio

from sources.common.discovery import Discovery, Listing, toml_list
from sources.holistics import client
from sources.holistics.client import SOURCE, HolisticsConfig


async def discover(config: HolisticsConfig) -> Discovery:
    async with client.session(config) as http:
        listed = [
            item
            async for page in client.pages(http, config, "/dashboards", "dashboards")
            for item in page
        ]
        dashboards = await asyncio.gather(
            *(client.get_dashboard(http, config, item["id"]) for item in listed)
        )
    rows, exportable = [], []
    for dashboard in dashboards:
        for widget in dashboard.get("widgets") or []:
            allowed = client.exportable(widget)
            title = widget.get("source_title") or widget.get("title") or ""
            rows.append(
                (
                    dashboard.get("id"),
                    dashboard.get("title"),
                    widget.get("id"),
                    widget.get("source_type"),
                    title,
                    "yes" if allowed else "no",
                )
            )
            if allowed:
                exportable.append((widget.get("id"), f"{dashboard.get('title')}: {title}"))
    listing = Listing(
        "dashboard widgets",
        ("dashboard", "dashboard title", "widget", "source type", "title", "exportable"),
        rows,
    )
    snippet = "\n".join(
        [
            "# every exportable widget of these dashboards:",
            "dashboard_ids = "
            + toml_list(
                [d.get("id") for d in dashboards], [str(d.get("title")) for d in dashboards]
            ),
            "# or single widgets:",
            "widget_ids = " + toml_list([w for w, _ in exportable], [t for _, t in exportable]),
        ]
    )
    return Discovery(SOURCE, [listing], snippet)
