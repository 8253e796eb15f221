"""The `tables` and `reports` settings: validated against the documented key tables and
turned into the request bodies of vendor-docs/datawiz-api.md.

A user writes only what matters for a builder table — its `name`, `aggregate` metrics,
`group_by` dimensions, `filters`, `options` — and this module adds the rest of the
documented body (date_range, prev_date_range, render_options). Dimension keys, date
range keys, options and report/widget slugs are checked against the doc's tables, with
a suggestion for a typo. The doc has no table of metric keys, so a metric key is only
checked for its form here; the API names an unknown one in its 400 answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pendulum

from sources.common.settings import suggestion
from sources.datawiz.doc_keys import (
    DATE_RANGE_KEYS,
    OPTIONS,
    PREV_DATE_RANGE_KEYS,
    REPORT_ID_LISTS,
    REPORT_INTERVALS,
    REPORT_WIDGETS,
)
from sources.datawiz.payloads import KINDS, TABLE
from sources.datawiz.query_checks import (
    date_range_of,
    dimension_key,
    entry_error,
    filter_entry,
    group_entry,
    id_list,
    known_keys,
    list_value,
    metric_key,
    tables_list,
    unique_names,
)

DAY = "day_month_year"

_TABLE_KEYS = frozenset(
    {
        "name",
        "aggregate",
        "group_by",
        "filters",
        "options",
        "incremental",
        "date_range",
        "prev_date_range",
        "dtype",
    }
)
# RenderOption `dtype` (doc: "possible dtype_key: `table`, `chart`"): why not chart
CHART_DTYPE = (
    "dtype chart asks the builder for the same query drawn as a chart, whose numbers are "
    "the table's: leave dtype out (table) to load them"
)
_REPORT_KEYS = frozenset(
    {"report", "widget", "metrics", "group_by_level", "week_day", "interval", *REPORT_ID_LISTS}
)


@dataclass(frozen=True)
class TableSpec:
    """One builder table: a named query."""

    name: str
    metrics: tuple[str, ...]
    group_by: tuple[dict[str, Any], ...]  # in request form, day grain first when incremental
    filters: tuple[dict[str, Any], ...]
    options: dict[str, Any]
    incremental: bool
    date_range: dict[str, Any] | None
    prev_date_range: dict[str, Any]

    @property
    def tree(self) -> bool:
        return bool(self.options.get("expand_tree"))

    def body(self, date_from: pendulum.Date | None, date_to: pendulum.Date | None) -> dict:
        """The documented request body; an inclusive day range, or the spec's own."""
        if date_from is not None and date_to is not None:
            date_range = {
                "selected": "date",
                "date_from": date_from.isoformat(),
                "date_to": date_to.isoformat(),
            }
        else:
            date_range = dict(self.date_range or {"selected": "last_7_days"})
        first = self.group_by[0]["dimension"] if self.group_by else "chain"
        additional: dict[str, Any] = {"level": 1, "is_root": True}
        if self.tree:
            additional["children"] = []
        return {
            "date_range": date_range,
            "prev_date_range": dict(self.prev_date_range),
            "aggregate": [{"metric": m} for m in self.metrics],
            "group_by": [dict(g) for g in self.group_by],
            "filters": [dict(f) for f in self.filters],
            "options": dict(self.options),
            "render_options": {
                "dtype": "table",
                "key_start": f"{first}=" if self.group_by else "",
                "additional_data": additional,
                "clone_data": {"name": f"{first}__name", "has_children": f"{first}__has_children"},
                "additional_column_options": {},
            },
        }


@dataclass(frozen=True)
class ReportSpec:
    """One report widget, loaded into `report_<report>__<widget>`."""

    report: str
    widget: str
    metrics: tuple[str, ...]
    filters: dict[str, Any] = field(default_factory=dict)
    kind: str = TABLE  # what the widget draws: payloads.KINDS

    @property
    def table(self) -> str:
        return f"report_{self.report}__{self.widget}"

    @property
    def interval(self) -> str | None:
        return self.filters.get("interval")

    @property
    def daily(self) -> bool:
        return self.interval == DAY

    def body(self, first: pendulum.Date, last: pendulum.Date) -> dict[str, Any]:
        """Dates inclusive; the previous range is the equal period just before."""
        days = (last - first).days + 1
        prev_last = first.subtract(days=1)
        prev_first = prev_last.subtract(days=days - 1)
        return {
            "date_range": {"from": first.isoformat(), "to": last.isoformat()},
            "prev_date_range": {"from": prev_first.isoformat(), "to": prev_last.isoformat()},
            "metrics": list(self.metrics),
            **self.filters,
        }


# -- parsing the settings ---------------------------------------------------------------


def parse_tables(value: Any) -> list[TableSpec]:
    items = tables_list("tables", value)
    specs = [_table(i, item) for i, item in enumerate(items)]
    unique_names("tables", [s.name for s in specs])
    return specs


def parse_reports(value: Any) -> list[ReportSpec]:
    items = tables_list("reports", value)
    specs = [_report(i, item) for i, item in enumerate(items)]
    unique_names("reports", [s.table for s in specs])
    return specs


def _table(index: int, item: dict[str, Any]) -> TableSpec:
    name = item.get("name")
    where = f"tables[{index}]"
    if not isinstance(name, str) or not name.strip():
        raise entry_error(where, "needs a name (the table it loads into)", "tables")
    where = f"tables[{index}] ({name})"
    known_keys(where, item, _TABLE_KEYS, "tables")
    if name.startswith("report_"):
        raise entry_error(
            where, "names starting with report_ are kept for report widgets", "tables"
        )
    dtype = item.get("dtype", "table")
    if dtype != "table":
        why = CHART_DTYPE if dtype == "chart" else f"dtype {dtype!r} is not table or chart"
        raise entry_error(where, why, "tables")
    metrics = tuple(
        metric_key(where, m) for m in list_value(where, "aggregate", item.get("aggregate"))
    )
    if not metrics:
        raise entry_error(where, "aggregate needs at least one metric key", "tables")
    group_by = [group_entry(where, g) for g in list_value(where, "group_by", item.get("group_by"))]
    filters = [filter_entry(where, f) for f in list_value(where, "filters", item.get("filters"))]
    dims = [g["dimension"] for g in group_by]
    if len(set(dims)) != len(dims):
        raise entry_error(where, "group_by names a dimension twice", "tables")
    options = item.get("options") or {}
    if not isinstance(options, dict):
        raise entry_error(where, f"options must be a table of flags, got {options!r}", "tables")
    for key in options:
        if key not in OPTIONS:
            raise entry_error(where, f"unknown option {key!r}{suggestion(key, OPTIONS)}", "tables")
    options = {"use_cache": True, "fixed_total": True, **options}
    incremental = item.get("incremental", True)
    if not isinstance(incremental, bool):
        raise entry_error(
            where, f"incremental must be true or false, got {incremental!r}", "tables"
        )
    date_range = item.get("date_range")
    if date_range is not None:
        if incremental:
            raise entry_error(
                where,
                "date_range is set by the source for incremental tables; "
                "set incremental = false to give your own",
                "tables",
            )
        date_range = date_range_of(where, "date_range", date_range, DATE_RANGE_KEYS)
    prev = date_range_of(
        where, "prev_date_range", item.get("prev_date_range") or {"selected": "previous"},
        PREV_DATE_RANGE_KEYS,
    )  # fmt: skip
    if incremental:
        day = next((g for g in group_by if g["dimension"] == DAY), None)
        group_by = [g for g in group_by if g["dimension"] != DAY]
        day = day or {"dimension": DAY, "display_fields": ["name"], "on": "row", "lookups": {}}
        group_by.insert(0, day)  # first, so every row (every tree level) is one day's
    return TableSpec(
        name=name.strip(),
        metrics=metrics,
        group_by=tuple(group_by),
        filters=tuple(filters),
        options=options,
        incremental=incremental,
        date_range=date_range,
        prev_date_range=prev,
    )


def _report(index: int, item: dict[str, Any]) -> ReportSpec:
    where = f"reports[{index}]"
    report, widget = item.get("report"), item.get("widget")
    if report not in REPORT_WIDGETS:
        raise entry_error(
            where,
            f"unknown report {report!r}{suggestion(report, REPORT_WIDGETS)}; "
            "see the doc's table of reports and report widgets",
            "reports",
        )
    if widget not in REPORT_WIDGETS[report]:
        raise entry_error(
            where,
            f"report {report} has no widget {widget!r}; it has {', '.join(REPORT_WIDGETS[report])}",
            "reports",
        )
    where = f"reports[{index}] ({report}/{widget})"
    known_keys(where, item, _REPORT_KEYS, "reports")
    if widget not in KINDS:  # a widget the doc lists that no reader of payloads.py takes
        raise entry_error(where, f"no reader for widget {widget} yet; please report it", "reports")
    metrics = tuple(metric_key(where, m) for m in list_value(where, "metrics", item.get("metrics")))
    if not metrics:
        raise entry_error(where, "metrics needs at least one metric key", "reports")
    filters: dict[str, Any] = {}
    for key in REPORT_ID_LISTS:
        if item.get(key) is not None:
            filters[key] = id_list(where, key, item[key])
    level = item.get("group_by_level")
    if level is not None:
        filters["group_by_level"] = dimension_key(where, "group_by_level", level, "reports")
    if item.get("week_day") is not None:
        days = id_list(where, "week_day", item["week_day"])
        if not all(1 <= d <= 7 for d in days):
            raise entry_error(where, "week_day takes day numbers 1 (Monday) to 7", "reports")
        filters["week_day"] = days
    interval = item.get("interval")
    if interval is not None:
        if interval not in REPORT_INTERVALS:
            raise entry_error(
                where,
                f"interval {interval!r} is not one of {', '.join(sorted(REPORT_INTERVALS))}",
                "reports",
            )
        filters["interval"] = interval
    return ReportSpec(report, widget, metrics, filters, KINDS[widget])
