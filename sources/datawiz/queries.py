"""The `tables` and `reports` settings: validated against the documented key tables and
turned into the request bodies of vendor-docs/datawiz-api.md.

A user writes only what matters for a builder table — its `name`, `aggregate` metrics,
`group_by` dimensions, `filters`, `options` — and this module adds the rest of the
documented body (date_range, prev_date_range, render_options). Dimension keys, date
range keys, options and report/widget slugs are checked against the doc's tables, with
a suggestion for a typo. The doc has no table of metric keys, so a metric key is only
checked for its form here; the API names an unknown one in its 400 answer."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

import pendulum

from sources.common.errors import ConfigError, config_key_help
from sources.datawiz.payloads import KINDS, TABLE

SOURCE = "datawiz"
DAY = "day_month_year"

# "Table of dimension keys"
DIMENSIONS = {
    "shop": "Stores",
    "shop_group": "Store Groups",
    "shop_marker": "Shop Markers",
    "category": "Categories",
    "product": "Products",
    "producer": "Producers",
    "brand": "Brands",
    "product_marker": "Product markers",
    "assortment_type": "Assortment types",
    "supplier": "Suppliers",
    "bonus_type": "Bonus Types",
    "categorical_manager": "Categorical managers",
    "day_month_year": "Day / Month / Year",
    "month_year": "Month / Year",
    "quarter": "Quarter",
    "month": "Month",
    "week": "Week",
    "week_day": "Day of the week",
    "hour": "Hours",
    "terminal": "Terminals",
    "cashier": "Cashiers",
    "receipt_marker": "Receipt Markers",
    "promo": "Promos",
    "promo_type": "Promo type",
    "loyalty": "Clients LP",
    "loyalty_format": "Types of PL clients",
    "loyalty_group": "Clients groups LP",
    "loss_type": "Types of Write-off (LossType)",
    "price_type": "Price type",
}
# "Table of selected keys for date range" (+ "date", which takes date_from/date_to)
DATE_RANGE_KEYS = frozenset(
    {
        "date",
        "last_update_date",
        "penultimate_update_date",
        "last_7_days",
        "last_30_days",
        "last_90_days",
        "last_180_days",
        "last_365_days",
        "week_begin",
        "month_begin",
        "quarter_begin",
        "year_begin",
        "prev_week",
        "prev_month",
        "prev_quarter",
        "prev_year",
        "all_time",
    }
)
# "Table of selected keys for previous date range"
PREV_DATE_RANGE_KEYS = frozenset(
    {"date", "previous", "prev_last_week", "prev_last_month", "prev_last_quarter", "prev_last_year"}
)
OPTIONS = frozenset({"use_cache", "fixed_total", "expand_tree", "with_col_total", "with_row_total"})
# "Table of reports and report widgets"
REPORT_WIDGETS: dict[str, tuple[str, ...]] = {
    "shops-sales": ("table", "treemap", "treemap-stock"),
    "category-sales": ("table", "treemap", "treemap-stock"),
    "brands-sales": ("table", "treemap", "treemap-stock"),
    "products-sales": ("table", "cumulative-curve", "abc", "category-abc"),
    "suppliers-analysis": ("table", "treemap", "treemap-stock"),
    "producers-analysis": ("table", "treemap", "treemap-stock"),
    "markers-comparative": ("table",),
    "categorical-managers": ("table",),
    "receipt-analysis": ("table",),
    "stock-control": ("table",),
    "out-of-stock": ("table",),
    "products-decommissioning": ("table",),
    "recalculation-products": ("table",),
    "terminals-traffic": ("table",),
    "staff-efficiency": ("table",),
    "innovation-products": ("table",),
    "baskets-analysis": ("table",),
    "quadrant-analysis": ("table",),
    "movement-products": ("document",),
    "predict-plan": ("table-by-shops", "table-by-categories", "table-by-categorical-managers"),
    "promotion-analysis": ("table", "chart"),
    "effectiveness-loyalty-program": ("table", "chart"),
    "hourly-analysis": ("chart", "table", "click-detail-table"),
    "rfm-analysis": ("chart", "loyalty-anomaly-table"),
    "loyalty-statistics": (
        "loyalty-dynamic",
        "cumulative-curve",
        "outflow-clients",
        "sales-funnel",
    ),
    "change-in-sales": ("comparison-chart",),
    "loyalty-segmentation": ("loyalty-clients-table", "loyalty-purchases-table"),
    "comparative-dynamics": ("curr-chart", "prev-chart", "diff-chart"),
    "shop-card": ("info", "cards", "chart"),
    "category-card": ("price-interval-chart", "cards", "chart", "sku"),
    "product-card": ("info", "cards", "chart"),
}
# The doc has no table of metric keys; these are the ones its text and examples name
# (lines 118, 187, 226-238, 365, 386, 482), for `discover`. Others exist.
DOC_METRICS = (
    "turnover",
    "plan_turnover_complete_percent",
    "plan_products_qty_complete_percent",
    "plan_profit_complete_percent",
    "plan_margin_price_complete_percent",
    "plan_marga_complete_percent",
    "losses_total_price_percent_part",
)
REPORT_INTERVALS = frozenset({"day_month_year", "week", "month"})
REPORT_ID_LISTS = ("shops", "categories", "products", "product_marker", "receipt_marker")
_METRIC = re.compile(r"^[a-z][a-z0-9_]*$")
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
    items = _list_of_dicts("tables", value)
    specs = [_table(i, item) for i, item in enumerate(items)]
    _unique("tables", [s.name for s in specs])
    return specs


def parse_reports(value: Any) -> list[ReportSpec]:
    items = _list_of_dicts("reports", value)
    specs = [_report(i, item) for i, item in enumerate(items)]
    _unique("reports", [s.table for s in specs])
    return specs


def _table(index: int, item: dict[str, Any]) -> TableSpec:
    name = item.get("name")
    where = f"tables[{index}]"
    if not isinstance(name, str) or not name.strip():
        raise _error(where, "needs a name (the table it loads into)", "tables")
    where = f"tables[{index}] ({name})"
    _known_keys(where, item, _TABLE_KEYS, "tables")
    if name.startswith("report_"):
        raise _error(where, "names starting with report_ are kept for report widgets", "tables")
    dtype = item.get("dtype", "table")
    if dtype != "table":
        why = CHART_DTYPE if dtype == "chart" else f"dtype {dtype!r} is not table or chart"
        raise _error(where, why, "tables")
    metrics = tuple(_metric(where, m) for m in _list(where, "aggregate", item.get("aggregate")))
    if not metrics:
        raise _error(where, "aggregate needs at least one metric key", "tables")
    group_by = [_group(where, g) for g in _list(where, "group_by", item.get("group_by"))]
    filters = [_filter(where, f) for f in _list(where, "filters", item.get("filters"))]
    dims = [g["dimension"] for g in group_by]
    if len(set(dims)) != len(dims):
        raise _error(where, "group_by names a dimension twice", "tables")
    options = item.get("options") or {}
    if not isinstance(options, dict):
        raise _error(where, f"options must be a table of flags, got {options!r}", "tables")
    for key in options:
        if key not in OPTIONS:
            raise _error(where, f"unknown option {key!r}{_suggest(key, OPTIONS)}", "tables")
    options = {"use_cache": True, "fixed_total": True, **options}
    incremental = item.get("incremental", True)
    if not isinstance(incremental, bool):
        raise _error(where, f"incremental must be true or false, got {incremental!r}", "tables")
    date_range = item.get("date_range")
    if date_range is not None:
        if incremental:
            raise _error(
                where,
                "date_range is set by the source for incremental tables; "
                "set incremental = false to give your own",
                "tables",
            )
        date_range = _date_range(where, "date_range", date_range, DATE_RANGE_KEYS)
    prev = _date_range(
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
        raise _error(
            where,
            f"unknown report {report!r}{_suggest(report, REPORT_WIDGETS)}; "
            "see the doc's table of reports and report widgets",
            "reports",
        )
    if widget not in REPORT_WIDGETS[report]:
        raise _error(
            where,
            f"report {report} has no widget {widget!r}; it has {', '.join(REPORT_WIDGETS[report])}",
            "reports",
        )
    where = f"reports[{index}] ({report}/{widget})"
    _known_keys(where, item, _REPORT_KEYS, "reports")
    if widget not in KINDS:  # a widget the doc lists that no reader of payloads.py takes
        raise _error(where, f"no reader for widget {widget} yet; please report it", "reports")
    metrics = tuple(_metric(where, m) for m in _list(where, "metrics", item.get("metrics")))
    if not metrics:
        raise _error(where, "metrics needs at least one metric key", "reports")
    filters: dict[str, Any] = {}
    for key in REPORT_ID_LISTS:
        if item.get(key) is not None:
            filters[key] = _ids(where, key, item[key])
    level = item.get("group_by_level")
    if level is not None:
        filters["group_by_level"] = _dimension(where, "group_by_level", level, "reports")
    if item.get("week_day") is not None:
        days = _ids(where, "week_day", item["week_day"])
        if not all(1 <= d <= 7 for d in days):
            raise _error(where, "week_day takes day numbers 1 (Monday) to 7", "reports")
        filters["week_day"] = days
    interval = item.get("interval")
    if interval is not None:
        if interval not in REPORT_INTERVALS:
            raise _error(
                where,
                f"interval {interval!r} is not one of {', '.join(sorted(REPORT_INTERVALS))}",
                "reports",
            )
        filters["interval"] = interval
    return ReportSpec(report, widget, metrics, filters, KINDS[widget])


# -- small checks -------------------------------------------------------------------------


def _group(where: str, item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        item = {"dimension": item}
    if not isinstance(item, dict):
        raise _error(
            where, f"group_by entries are dimension keys or tables, got {item!r}", "tables"
        )
    unknown = set(item) - {"dimension", "display_fields", "lookups", "on"}
    if unknown:
        raise _error(where, f"group_by entry has unknown key(s) {sorted(unknown)}", "tables")
    dimension = _dimension(where, "group_by", item.get("dimension"), "tables")
    fields = item.get("display_fields") or ["name"]
    if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
        raise _error(where, f"display_fields of {dimension} must be a list of names", "tables")
    on = item.get("on", "row")
    if on not in ("row", "column"):
        raise _error(where, f"on of {dimension} must be row or column, got {on!r}", "tables")
    return {
        "dimension": dimension,
        "display_fields": list(fields),
        "lookups": _lookups(where, dimension, item.get("lookups")),
        "on": on,
    }


def _filter(where: str, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _error(where, f"filters entries are tables, got {item!r}", "tables")
    dimension = _dimension(where, "filters", item.get("dimension"), "tables")
    lookups = _lookups(where, dimension, item.get("lookups"))
    if not lookups:
        raise _error(where, f"the filter on {dimension} needs lookups include/exclude", "tables")
    return {"dimension": dimension, "lookups": lookups}


def _lookups(where: str, dimension: str, value: Any) -> dict[str, list[Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict) or set(value) - {"include", "exclude"}:
        raise _error(where, f"lookups of {dimension} take only include and exclude lists", "tables")
    for key, ids in value.items():
        if not isinstance(ids, list):
            raise _error(where, f"lookups.{key} of {dimension} must be a list of ids", "tables")
    return {k: list(v) for k, v in value.items()}


def _dimension(where: str, key: str, value: Any, setting: str) -> str:
    if value not in DIMENSIONS:
        raise _error(
            where,
            f"unknown dimension {value!r} in {key}{_suggest(value, DIMENSIONS)}; "
            "see the doc's table of dimension keys",
            setting,
        )
    return str(value)


def _metric(where: str, value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"metric"}:
        value = value["metric"]
    if not isinstance(value, str) or not _METRIC.match(value):
        raise _error(where, f"{value!r} is not a metric key (like turnover)", where.split("[")[0])
    return value


def _date_range(where: str, key: str, value: Any, allowed: frozenset[str]) -> dict[str, Any]:
    setting = where.split("[")[0]
    if not isinstance(value, dict) or value.get("selected") not in allowed:
        selected = value.get("selected") if isinstance(value, dict) else value
        raise _error(
            where,
            f"{key}.selected {selected!r} is not a documented key{_suggest(selected, allowed)}",
            setting,
        )
    if value["selected"] == "date":
        for bound in ("date_from", "date_to"):
            try:
                pendulum.Date.fromisoformat(str(value.get(bound)))
            except ValueError:
                raise _error(where, f"{key}.{bound} must be YYYY-MM-DD", setting) from None
    return dict(value)


def _ids(where: str, key: str, value: Any) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise _error(where, f"{key} must be a list of numeric ids, got {value!r}", "reports")
    return list(value)


def _list(where: str, key: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _error(where, f"{key} must be a list, got {value!r}", where.split("[")[0])
    return value


def _list_of_dicts(setting: str, value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, dict):  # a single TOML table
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(
            f"{setting} must be a list of tables (TOML [[sources.datawiz.{setting}]] or JSON)",
            source=SOURCE,
            hint=config_key_help(SOURCE, setting),
        )
    return value


def _known_keys(where: str, item: dict[str, Any], known: frozenset[str], setting: str) -> None:
    for key in item:
        if key not in known:
            raise _error(where, f"unknown key {key!r}{_suggest(key, known)}", setting)


def _unique(setting: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(
                f"{setting} names table {name} twice",
                source=SOURCE,
                hint=config_key_help(SOURCE, setting),
            )
        seen.add(name)


def _suggest(value: Any, choices: Any) -> str:
    close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _error(where: str, cause: str, setting: str) -> ConfigError:
    return ConfigError(f"{where}: {cause}", source=SOURCE, hint=config_key_help(SOURCE, setting))
