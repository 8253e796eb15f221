"""Datawiz report widgets that are not tables, for the simulator (sandbox/datawiz.py).

Simulated: `shop-card` `chart` (Shop Dynamics: the metrics per day, week or month of
one shop), `cards` (the metrics and their `_prev` over the range) and `info` (the
shop's details and metrics), and `category-sales` `treemap` (Sales Structure:
categories and their products). A card widget shows exactly one shop (`shops` of one
id, else 400; an unknown id is a 404), as the report's name says.

Each widget's content is computed from the simulator's facts, then spoken in the current
dialect: the doc shows no answer for any of them, so `WIDGET_DIALECTS` lists every
plausible shape, and `truth` gives the rows the source must load from it (the long form
of docs/sources/datawiz.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sandbox.datawiz_data import METRICS, Query
from sandbox.server import Reply

WIDGET_DIALECTS: dict[str, tuple[str, ...]] = {
    # a series widget (chart, curve, funnel): Highcharts' {categories, series: [{name,
    # id, data}]}, series of [x, y] pairs, chart.js' {labels, datasets}, long rows of
    # points {x, series, y}, or wide rows {date, <metric>: y, …}
    "series_shape": ("series", "pairs", "chartjs", "points", "wide"),
    # a tree widget (treemap, ABC): nested `children`, or a flat list naming parent ids
    "tree_shape": ("nested", "flat"),
    # a key-value widget (cards, info panel): {key: value} or [{name, value}]
    "panel_shape": ("object", "list"),
}
# what each form says about a series: (its name, its measure) from (title, metric key)
_SERIES_NAMES = {"series": (0, 1), "pairs": (0, None), "chartjs": (0, None)}
_SERIES_NAMES.update({"points": (0, None), "wide": (1, 1)})
CARD_REPORTS = {"shop-card": ("shops", "shop")}  # report: (its id filter, dimension)
WIDGETS = {  # (report, widget): what the widget draws
    ("shop-card", "chart"): "series",
    ("shop-card", "cards"): "key-value",
    ("shop-card", "info"): "key-value",
    ("category-sales", "treemap"): "tree",
}
# the non-table widgets the demo (and every default test run) loads, after the tables
EXAMPLE_WIDGETS: list[dict[str, Any]] = [
    {"report": "shop-card", "widget": "chart", "metrics": ["turnover", "qty"], "shops": [1]},
    {
        "report": "shop-card",
        "widget": "cards",
        "metrics": ["turnover", "receipts_qty"],
        "shops": [2],
        "interval": "week",
    },
    {"report": "shop-card", "widget": "info", "metrics": ["turnover"], "shops": [3]},
    {
        "report": "category-sales",
        "widget": "treemap",
        "metrics": ["turnover"],
        "categories": [5633, 5635],
    },
]


@dataclass
class Series:
    labels: list[str]
    lines: list[tuple[str, str, list[Any]]]  # (title, metric key, a value per label)


@dataclass
class Tree:
    nodes: list[tuple[str, str | None, str, dict[str, Any]]]  # key, parent, name, values


@dataclass
class Panel:
    entries: list[tuple[str, Any]]  # (key, value)


def windows(spec: dict[str, Any], first: date, last: date) -> list[tuple[date, date]]:
    """The (first, last) days the source asks an example widget for over a run of
    first..last: a day each, each calendar week from the Monday before, or one snapshot."""
    interval = spec.get("interval")
    if interval == "day_month_year":
        return [(first + timedelta(i),) * 2 for i in range((last - first).days + 1)]
    if interval == "week":
        monday = first - timedelta(days=first.weekday())
        weeks = range(0, (last - monday).days + 1, 7)
        return [(monday + timedelta(w), min(monday + timedelta(w + 6), last)) for w in weeks]
    return [(first, last)]


def request_body(spec: dict[str, Any], first: date, last: date) -> dict[str, Any]:
    """The body the source sends for an example widget over days first..last."""
    days = (last - first).days + 1
    prev_last = first - timedelta(days=1)
    prev_first = prev_last - timedelta(days=days - 1)
    filters = {k: v for k, v in spec.items() if k not in ("report", "widget")}
    return {
        "date_range": {"from": str(first), "to": str(last)},
        "prev_date_range": {"from": str(prev_first), "to": str(prev_last)},
        **filters,
    }


class WidgetPayloads:
    """Mixin of `DatawizSim`: its non-table widgets, `_payload` (HTTP) and
    `widget_truth` (tests), from the simulator's facts (`_members`, `_sum`, `_display`)
    and dialect knobs; validation and the DRF envelope are the table widgets'."""

    series_shape: str
    tree_shape: str
    panel_shape: str
    numbers: str
    odd_value = False  # test knob: the middle value of every answer is a list; counted
    odd_values = 0

    def widget_truth(self, report: str, widget: str, body: dict[str, Any]) -> list[dict]:
        """The long-form rows the source must load from this widget's answer."""
        content = self._content(report, widget, body)
        if isinstance(content, Reply):
            raise ValueError(content.body)
        if isinstance(content, Series):
            name, measure = _SERIES_NAMES[self.series_shape]
            return [
                {"position": i + 1, "label": label, "series": line[name]}
                | {"measure": None if measure is None else line[measure], "value": value}
                for line in content.lines
                for i, (label, value) in enumerate(zip(content.labels, line[2], strict=True))
            ]
        if isinstance(content, Tree):
            levels: dict[str, int] = {}
            rows = []
            for i, (key, parent, name, values) in enumerate(content.nodes):
                levels[key] = levels[parent] + 1 if parent else 1
                where = {"position": i + 1, "label": name, "node_key": key}
                where |= {"parent_key": parent, "level": levels[key]}
                rows += [where | {"measure": m, "value": v} for m, v in values.items()]
            return rows
        return [
            {"position": i + 1, "label": None, "measure": key}
            | ({"value_text": value} if isinstance(value, str) else {"value": value})
            for i, (key, value) in enumerate(content.entries)
        ]

    def example_widget_counts(self, first: date, last: date) -> dict[str, int]:
        """Rows of each `EXAMPLE_WIDGETS` table after a default run over first..last."""
        counts = {}
        for spec in EXAMPLE_WIDGETS:
            report, widget = spec["report"], spec["widget"]
            rows = sum(
                len(self.widget_truth(report, widget, request_body(spec, lo, hi)))
                for lo, hi in windows(spec, first, last)
            )
            counts[f"report_{report}__{widget}".replace("-", "_")] = rows
        return counts

    def _payload(self, report: str, widget: str, body: dict[str, Any]) -> Reply:
        """The widget's answer in the current dialect (or its error)."""
        content = self._content(report, widget, body)
        if isinstance(content, Reply):
            return content
        self._odd_value(content)
        if isinstance(content, Series):
            return self._wrapped(self._series(content))
        if isinstance(content, Tree):
            return self._wrapped(self._tree(content))
        return self._wrapped(self._panel(content))

    # -- content -----------------------------------------------------------------------

    def _content(self, report: str, widget: str, body: dict[str, Any]) -> Any:
        query = self._widget_query(body)
        if isinstance(query, Reply):
            return query
        metrics, days, prev, lookups = query
        if report in CARD_REPORTS:
            key, dim = CARD_REPORTS[report]
            ids = body.get(key) or []
            if len(ids) != 1:
                return Reply.json({key: ["A card shows exactly one item: give one id."]}, 400)
            if ids[0] not in self._ids(dim, {}):
                return Reply.json({"detail": "Not found."}, 404)
        if widget == "chart":
            periods = _periods(days, body.get("interval"))
            values = [self._values(metrics, group, lookups) for group in periods.values()]
            lines = [(_title(m), m, [v[m] for v in values]) for m in metrics]
            return Series([str(start) for start in periods], lines)
        if widget == "treemap":
            return Tree(self._structure(metrics, days, lookups))
        entries = []
        if widget == "info":
            shop = body["shops"][0]
            entries = [("name", self._display("shop", shop, "name")), *_shop_details(shop)]
        entries += self._values(metrics, days, lookups).items()
        if prev is not None:
            entries += [(f"{m}_prev", v) for m, v in self._values(metrics, prev, lookups).items()]
        return Panel(entries)

    def _values(
        self, metrics: tuple[str, ...], days: tuple[date, ...], lookups: dict, **fixed: Any
    ) -> dict[str, Any]:
        """Each metric over `days`, for the members passing `lookups` and `fixed`."""
        query = Query((), {}, lookups, metrics, days, False)
        sums = self._sum(self._members(query, fixed))
        return {m: METRICS[m][1](sums) for m in metrics}

    def _ids(self, dim: str, lookups: dict, **fixed: Any) -> list[int]:
        """Members of a dimension passing the lookups (shops, categories, products)."""
        members = self._members(Query((), {}, lookups, (), (), False), fixed)
        if dim == "category":
            return list(dict.fromkeys(self._hierarchy(p)["category"] for p in members["product"]))
        return members[dim]

    def _structure(self, metrics: tuple[str, ...], days: tuple[date, ...], lookups: dict) -> list:
        """Categories (as filtered) and their products, depth first."""
        nodes = []
        for category in self._ids("category", lookups):
            key = f"category={category}"
            name = self._display("category", category, "name")
            nodes.append((key, None, name, self._values(metrics, days, lookups, category=category)))
            for product in self._ids("product", lookups, category=category):
                values = self._values(metrics, days, lookups, product=product)
                name = self._display("product", product, "name")
                nodes.append((f"{key}&product={product}", key, name, values))
        return nodes

    # -- speaking the dialect ----------------------------------------------------------

    def _odd_value(self, content: Any) -> None:
        """The `odd_value` knob: the middle value becomes a list, which no reader places."""
        if not self.odd_value:
            return
        if isinstance(content, Series):
            values = content.lines[0][2]
            values[len(values) // 2] = [values[len(values) // 2]]
        elif isinstance(content, Tree):
            values = content.nodes[len(content.nodes) // 2][3]
            first = next(iter(values))
            values[first] = [values[first]]
        else:
            key, value = content.entries[len(content.entries) // 2]
            content.entries[len(content.entries) // 2] = (key, [value])
        with self._lock:
            self.odd_values += 1

    def _number(self, value: Any) -> Any:
        if self.numbers == "string" and type(value) in (int, float):
            return str(value)
        return value

    def _series(self, content: Series) -> Any:
        shape, labels = self.series_shape, content.labels
        lines = [(t, k, [self._number(v) for v in vs]) for t, k, vs in content.lines]
        if shape == "series":
            series = [{"name": t, "id": k, "data": vs, "type": "line"} for t, k, vs in lines]
            return {"categories": labels, "series": series}
        if shape == "pairs":
            pairs = [[[x, v] for x, v in zip(labels, vs, strict=True)] for _, _, vs in lines]
            return {
                "series": [
                    {"name": t, "data": p} for (t, _, _), p in zip(lines, pairs, strict=True)
                ]
            }
        if shape == "chartjs":
            datasets = [{"label": t, "data": vs, "borderColor": "#1890ff"} for t, _, vs in lines]
            return {"labels": labels, "datasets": datasets}
        if shape == "points":
            return [
                {"x": label, "series": t, "y": vs[i]}
                for i, label in enumerate(labels)
                for t, _, vs in lines
            ]
        return [
            {"date": label, **{k: vs[i] for _, k, vs in lines}} for i, label in enumerate(labels)
        ]

    def _tree(self, content: Tree) -> Any:
        nodes = [
            (key, parent, name, {m: self._number(v) for m, v in values.items()})
            for key, parent, name, values in content.nodes
        ]
        if self.tree_shape == "flat":
            return [
                {"id": key, "parent": parent or "", "name": name, **values}
                for key, parent, name, values in nodes
            ]
        by_key: dict[str, dict[str, Any]] = {}
        roots = []
        for key, parent, name, values in nodes:
            node = {"key": key, "name": name, **values, "children": []}
            by_key[key] = node
            (by_key[parent]["children"] if parent else roots).append(node)
        return roots

    def _panel(self, content: Panel) -> Any:
        entries = [(key, self._number(value)) for key, value in content.entries]
        if self.panel_shape == "list":
            return [{"name": key, "value": value} for key, value in entries]
        return dict(entries)


def _title(metric: str) -> str:
    return METRICS[metric][0]


def _periods(days: tuple[date, ...], interval: str | None) -> dict[date, tuple[date, ...]]:
    """The chart's x axis: the days grouped by day (default), week (from Monday) or month."""
    groups: dict[date, list[date]] = {}
    for day in days:
        if interval == "week":
            start = day - timedelta(days=day.weekday())
        elif interval == "month":
            start = day.replace(day=1)
        else:
            start = day
        groups.setdefault(start, []).append(day)
    return {start: tuple(group) for start, group in groups.items()}


def _shop_details(shop: int) -> list[tuple[str, Any]]:
    """An info panel's fixed facts: text, a number, a date spelled as text."""
    return [
        ("address", f"{shop} Market Street"),
        ("area", 80.0 + 12.5 * shop),
        ("opened", f"201{shop % 10}-03-01"),
    ]
