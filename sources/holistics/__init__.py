"""Holistics: BI metadata, and dashboard-widget data through CSV export jobs.

Metadata tables, each replaced by every run that read it whole (dlt `replace`, primary
keys as named), so an object Holistics deleted leaves its table; a listing that fails
fails the run before anything is loaded, so it never empties a table:
- `dashboards` (`id`; `dashboards__dynamic_filters` child table, the filters'
  `definition` and `mappings` kept as JSON), `dashboard_widgets` (`id`, one row per
  widget of every dashboard, with `dashboard_id`), and the objects behind the widgets,
  `query_reports`, `data_sets`, `data_sources` (`id`; `widget_sources`), `data_models`
  (`project_id`, `id`; opt-in `data_model_projects`), `dependencies` (their downstream
  dependants; `dependency_types`), see objects.py;
- `data_schedules`, `data_alerts`, `users` (+ `user_counters`, `user_groups`),
  `groups` (+ `group_users`), `user_attributes` (`id`), filtered by `list_filters`, and
  the opt-in `user_attribute_entries`, see lists.py.
Nested lists become child tables one level deep; deeper structures stay JSON.

Widget exports (exports.py): `widget_<id>` per exported widget, its CSV's columns typed
over the whole file, `_widget_id` marking the widget, as a snapshot replaced per run
(delete-insert on `_widget_id`, kept when its export fails) or merged on configured keys
over an incremental date window; and `jobs`/`job_logs`, the history of each run's
export jobs (history.py). Assumptions about the API are in `client.py`'s docstring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import dlt
import pendulum

from sources.common.discovery import Discovery
from sources.common.names import with_fields
from sources.common.redaction import masked_credentials
from sources.common.settings import optional_list, require_non_negative, require_positive
from sources.common.windows import DEFAULT_HISTORY_DAYS, parse_datetime
from sources.holistics import catalog, client, exports, lists, objects, settings
from sources.holistics.config import SOURCE, HolisticsConfig, resolve_base_url
from sources.holistics.objects import Found, ObjectSettings
from sources.holistics.settings import (
    check_conditions,
    list_params,
    model_projects,
    widget_options,
)

__all__ = ["check", "discover", "holistics_source", "resolve_base_url"]
# table → primary key, JSON columns (deep definitions kept whole)
OBJECT_TABLES: dict[str, tuple[Any, tuple[str, ...]]] = {
    "query_reports": ("id", ("viz_setting",)),
    "data_sets": ("id", ()),
    "data_sources": ("id", ("settings", "dbconfig")),
    "data_models": (["project_id", "id"], ()),
    "dependencies": (["object_type", "object_id", "dependant_type", "dependant_id"], ()),
}


@dlt.source(name=SOURCE, section=SOURCE, max_table_nesting=1, spec=HolisticsConfig)
def holistics_source(
    config: HolisticsConfig = None,
    backfill_start: str | None = None,
    backfill_end: str | None = None,
) -> Any:
    """Holistics metadata and widget exports; `backfill_*` come from `run --start/--end`."""
    params = list_params(config.list_filters)
    wanted = ObjectSettings(
        params.get("dashboards", {}),
        bool(config.widget_sources),
        tuple(model_projects(config.data_model_projects)),
        dependency_kinds(config.dependency_types),
    )
    today = pendulum.today("UTC")
    to_export = exports.ExportSettings(
        optional_list(SOURCE, "widget_ids", config.widget_ids),
        optional_list(SOURCE, "dashboard_ids", config.dashboard_ids),
        check_conditions("export_filters", config.export_filters),
        widget_options(config.widgets),
        parse_datetime(SOURCE, "start_date", config.start_date, pendulum.UTC)
        if config.start_date
        else today.subtract(days=DEFAULT_HISTORY_DAYS),
        int(require_non_negative(SOURCE, "lookback_days", config.lookback_days)),
        (
            parse_datetime(SOURCE, "--start", backfill_start, pendulum.UTC)
            if backfill_start
            else None,
            parse_datetime(SOURCE, "--end", backfill_end, pendulum.UTC) if backfill_end else None,
        ),
        int(require_positive(SOURCE, "concurrency", config.concurrency)),
    )

    @dlt.resource(name="objects", selected=False)
    async def found() -> AsyncIterator[Found]:
        async for batch in objects.found(config, wanted):
            yield batch

    def picked(
        name: str,
        table: str,
        shape: Callable[[list[dict]], list[dict]],
        key: Any,
        json_columns: tuple[str, ...] = (),
        selected: bool = True,
    ) -> Any:
        @dlt.transformer(
            data_from=found,
            name=name,
            write_disposition="replace",
            primary_key=key,
            columns={c: {"data_type": "json"} for c in json_columns},
            selected=selected,
        )
        def transformer(batch: Found) -> Iterator[list[dict[str, Any]]]:
            if batch.table == table:
                yield shape(batch.rows)

        return transformer

    def as_listed(rows: list[dict]) -> list[dict]:
        # keys that snake-case alike (`fooBar`, `foo_bar`) keep both values; a data
        # source's connection settings (`dbconfig`) may hold a database password: masked
        return [with_fields(without_passwords(row), {}) for row in rows]

    enabled = {
        "query_reports": wanted.widget_sources,
        "data_sets": wanted.widget_sources,
        "data_sources": wanted.widget_sources,
        "data_models": bool(wanted.projects),
        "dependencies": bool(wanted.dependency_types),
    }

    @dlt.resource(name="widget_exports", write_disposition="merge")
    async def widget_exports() -> AsyncIterator[Any]:
        cursors: dict[str, str] = dlt.current.resource_state().setdefault("cursors", {})
        async for item in exports.run_exports(config, to_export, cursors):
            yield item

    entries = lists.entries_resource(config)
    entries.selected = bool(config.user_attribute_entries)
    return (
        found,
        picked("dashboards", "dashboards", strip_widgets, "id"),
        picked("dashboard_widgets", "dashboards", widget_rows, "id"),
        *(
            picked(name, name, as_listed, key, columns, enabled[name])
            for name, (key, columns) in OBJECT_TABLES.items()
        ),
        *lists.list_resources(config, params),
        entries,
        widget_exports,
    )


def without_passwords(row: dict[str, Any]) -> dict[str, Any]:
    if isinstance(row.get("dbconfig"), dict):
        return {**row, "dbconfig": masked_credentials(row["dbconfig"])}
    return row


def dependency_kinds(value: list[str] | None) -> tuple[str, ...]:
    """`dependency_types`, data sources and data sets when unset."""
    return settings.dependency_types(["DataSource", "DataSet"] if value is None else value)


def strip_widgets(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [with_fields({k: v for k, v in d.items() if k != "widgets"}, {}) for d in details]


def widget_rows(details: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        with_fields(widget, {"dashboard_id": d["id"]})
        for d in details
        for widget in objects.widgets_of(d)
    ]


def check() -> str:
    """One cheap authenticated call: who owns the key."""
    config = HolisticsConfig.resolved()

    async def call() -> str:
        async with client.session(config) as session:
            user = await client.current_user(session, config)
        return f"key accepted for {user.get('email') or 'user ' + str(user.get('id', '?'))}"

    return asyncio.run(call())


def discover() -> Discovery:
    return asyncio.run(catalog.discover(HolisticsConfig.resolved()))
