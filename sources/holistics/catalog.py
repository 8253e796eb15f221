"""`python -m pipelines discover holistics`: dashboards and their widgets, with whether
each widget may be exported (`permissions.export_data`) by the key's owner, and the data
sets behind the widgets with the AML project each belongs to: Holistics has no list of
projects, so the data sets' `project_id` is where `data_model_projects` ids are found."""

from __future__ import annotations

from typing import Any

from sources.common.discovery import Discovery, Listing, toml_list
from sources.holistics import client, objects
from sources.holistics.client import SOURCE, HolisticsConfig
from sources.holistics.objects import ObjectSettings


async def discover(config: HolisticsConfig) -> Discovery:
    found: dict[str, list[dict[str, Any]]] = {}
    wanted = ObjectSettings(widget_sources=True)
    async for batch in objects.found(config, wanted):
        found.setdefault(batch.table, []).extend(batch.rows)
    dashboards, data_sets = found.get("dashboards", []), found.get("data_sets", [])
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
    listings = [
        Listing(
            "dashboard widgets",
            ("dashboard", "dashboard title", "widget", "source type", "title", "exportable"),
            rows,
        ),
        Listing(
            "data sets behind the widgets",
            ("data set", "title", "data source", "AML project"),
            [
                (d.get("id"), d.get("title"), d.get("data_source_id"), d.get("project_id"))
                for d in data_sets
            ],
        ),
    ]
    snippet = "\n".join(
        [
            "# every exportable widget of these dashboards:",
            "dashboard_ids = "
            + toml_list(
                [d.get("id") for d in dashboards], [str(d.get("title")) for d in dashboards]
            ),
            "# or single widgets:",
            "widget_ids = " + toml_list([w for w, _ in exportable], [t for _, t in exportable]),
            *projects_snippet(data_sets),
        ]
    )
    return Discovery(SOURCE, listings, snippet)


def projects_snippet(data_sets: list[dict[str, Any]]) -> list[str]:
    """`data_model_projects` with the projects the data sets name, or where to look."""
    projects = sorted({d["project_id"] for d in data_sets if d.get("project_id") is not None})
    if not projects:
        return [
            "# no data set names its AML project: the project id is in AML Studio's URL",
            "# data_model_projects = []",
        ]
    titles = [
        ", ".join(str(d.get("title")) for d in data_sets if d.get("project_id") == p)
        for p in projects
    ]
    return [
        "# data models of the AML projects of these data sets (opt-in):",
        "data_model_projects = " + toml_list(projects, titles),
    ]
