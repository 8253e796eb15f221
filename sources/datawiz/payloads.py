"""The one reader of Datawiz widget answers that are not tables: series (charts, curves,
funnels, comparisons), trees (treemaps, ABC) and key-value panels (cards, info).

Every such widget loads in one long form, so an analyst queries any of them alike: a row
per value, with
- `position`: the point's place on the x axis, the node's place (depth first), or the
  entry's place, from 1;
- `label`: the x value as sent (a day, an hour, a funnel stage, a product), the node's
  name, or the entry's title when it has one;
- `series` (series only): the series' name;
- `measure`: the series' metric key when sent, the node's field (a metric key), or the
  entry's key;
- `value` (a number, or a decimal string) or `value_text` (any other value);
- `node_key`, `parent_key`, `level` (trees only): the node, its parent, its depth.

The doc (vendor-docs/datawiz-api.md) shows no widget answer, so each kind takes every
plausible shape (docs/vendor-assumptions.md; the simulator's `series_shape`,
`tree_shape` and `panel_shape` dialects) and refuses anything else: a value this reader
cannot place fails its widget's part with one line naming what came, never dropped.
Fields that only dress a series (a colour, a chart type) are not values; a number in a
point's field the reader does not know is one, and fails the part."""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from typing import Any

from sources.common.completeness import Tally, unreadable

SOURCE = "datawiz"
TABLE, SERIES, TREE, PANEL = "table", "series", "tree", "key-value"
# "Table of reports and report widgets": what each widget slug draws (docs/sources/datawiz.md)
KINDS: dict[str, str] = {
    **dict.fromkeys(
        (
            "table",
            "table-by-shops",
            "table-by-categories",
            "table-by-categorical-managers",
            "click-detail-table",
            "loyalty-anomaly-table",
            "loyalty-clients-table",
            "loyalty-purchases-table",
            "document",  # Products movement: a list of movement documents
            "sku",  # Category fullness: the category's SKUs
        ),
        TABLE,
    ),
    **dict.fromkeys(
        (
            "chart",
            "curr-chart",
            "prev-chart",
            "diff-chart",
            "comparison-chart",
            "cumulative-curve",
            "sales-funnel",
            "loyalty-dynamic",
            "outflow-clients",
            "price-interval-chart",
        ),
        SERIES,
    ),
    **dict.fromkeys(("treemap", "treemap-stock", "abc", "category-abc"), TREE),
    **dict.fromkeys(("cards", "info"), PANEL),
}
_COLUMNS = {  # name: (dtype, title)
    "position": ("integer", "Place in the widget's answer (x axis, depth-first node, entry)"),
    "label": ("string", "x value, node name or entry title, as the widget sent it"),
    "series": ("string", "Series name"),
    "measure": ("string", "Metric key or field the value belongs to"),
    "value": ("number", "The value, when it is a number"),
    "value_text": ("string", "The value, when it is no number"),
    "node_key": ("string", "The node's key"),
    "parent_key": ("string", "The parent node's key (none at the top)"),
    "level": ("integer", "Depth of the node (1 = top)"),
}
_TREE_ONLY = ("node_key", "parent_key", "level")
_NOT_IN = {SERIES: _TREE_ONLY, TREE: ("series",), PANEL: ("series", *_TREE_ONLY)}
_DECIMAL = re.compile(r"-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?")  # not "0501…": a code
_X = ("x", "date", "label", "category")  # where a point names its place on the x axis
_Y = ("y", "value")
_NAME = ("name", "label", "series", "title")
_KEY = ("id", "key", "metric", "dataIndex")
_TITLE = ("title", "label", "name")
_PARENT = ("parent", "parent_id", "parentId", "parent_key")
_NODE = frozenset({"children", "level", *_KEY, *_PARENT, *_TITLE})


def columns(kind: str) -> list[dict[str, Any]]:
    """The long form's columns as the answer's `columns` metadata (types, titles)."""
    return [
        {"dataIndex": name, "dtype": dtype, "title": title}
        for name, (dtype, title) in _COLUMNS.items()
        if name not in _NOT_IN[kind]
    ]


def read(body: Any, kind: str, endpoint: str) -> list[dict[str, Any]]:
    """A widget's whole answer as long-form rows; raises (one line) on what it cannot place."""
    reader = _Reader(endpoint)
    readers = {SERIES: reader.series, TREE: reader.tree, PANEL: reader.panel}
    return readers[kind](reader.unwrap(body))


class _Reader:
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint

    def fail(self, what: str, seen: Any) -> Exception:
        return unreadable(what, seen, source=SOURCE, endpoint=self.endpoint)

    def unwrap(self, body: Any) -> Any:
        """DRF's `{count, next, previous, results}` around the payload, or the payload."""
        if not (isinstance(body, dict) and "results" in body and "next" in body):
            return body
        if body["next"]:
            raise self.fail("a paged widget answer (a chart is one answer)", body)
        results = body["results"]
        if isinstance(results, list) and isinstance(body.get("count"), int):
            tally = Tally("the widget's results", source=SOURCE, endpoint=self.endpoint)
            tally.declared(body["count"])
            tally.received(tally.emitted(len(results)))
            tally.settle()
        return results

    def scalar(self, value: Any, field: str) -> Any:
        """A value as sent; an object or a list in a value's place is not one."""
        if isinstance(value, dict | list):
            raise self.fail(f"{field} holds a {type(value).__name__}, not a value", value)
        return value

    # -- series ----------------------------------------------------------------------

    def series(self, payload: Any) -> list[dict[str, Any]]:
        if isinstance(payload, dict) and "datasets" in payload:  # chart.js
            return self.lines(payload.get("labels"), payload["datasets"])
        if isinstance(payload, dict) and "series" in payload:  # Highcharts
            return self.lines(payload.get("categories"), payload["series"])
        if isinstance(payload, list) and payload and all(_has_data(s) for s in payload):
            return self.lines(None, payload)
        if isinstance(payload, list):
            places: dict[Any, int] = {}  # x value: its place, in the order first seen
            return [row for i, p in enumerate(payload) for row in self.point_row(i, p, places)]
        raise self.fail(
            "a series answer ({series, categories}, {labels, datasets}, series or points)",
            payload,
        )

    def lines(self, labels: Any, lines: Any) -> list[dict[str, Any]]:
        """Named series of points: values along `labels`, [x, y] pairs or point objects;
        with labels, every series has one point per label."""
        if labels is not None and not isinstance(labels, list):
            raise self.fail("x labels that are no list", labels)
        if not isinstance(lines, list) or not all(_has_data(s) for s in lines):
            raise self.fail("series that are not objects with a data list", lines)
        tally = Tally("the series' points", source=SOURCE, endpoint=self.endpoint)
        if labels is not None:
            tally.declared(len(labels) * len(lines))
        rows = []
        for line in lines:
            name, key = _first(line, _NAME), _first(line, _KEY)
            tally.received(len(line["data"]))
            for i, point in enumerate(line["data"]):
                x, y = self.place(point, labels, i)
                rows.append(_row(i, y, label=x, series=name, measure=key))
        tally.emitted(len(rows))
        tally.settle()
        return rows

    def place(self, point: Any, labels: list | None, index: int) -> tuple[Any, Any]:
        """(x, y) of one point of a named series."""
        if isinstance(point, list) and len(point) == 2:
            x, y = point
        elif isinstance(point, dict):
            if not any(f in point for f in _Y):
                raise self.fail(f"a point without a value ({', '.join(_Y)})", point)
            self.no_stray(point, {*_Y, *_X, "name"})
            x, y = _first(point, (*_X, "name")), _first(point, _Y)
        else:
            x, y = None, point
        if x is None and labels is not None and index < len(labels):
            x = labels[index]
        if x is None:
            raise self.fail("a point with no x value and no label for it", point)
        return self.scalar(x, "x"), self.scalar(y, "a point")

    def point_row(self, index: int, point: Any, places: dict[Any, int]) -> Iterator[dict[str, Any]]:
        """A row of points: long (`{x, series, y}`) or wide (`{date, <metric>: …}`); its
        place is its x value's, so a long row's series line up as in the other shapes."""
        if not isinstance(point, dict):
            raise self.fail(f"point {index + 1} is not an object", point)
        x_field = next((f for f in (*_X, "name") if f in point), None)
        if x_field is None:
            raise self.fail(f"point {index + 1} names no x value ({', '.join(_X)})", point)
        x = self.scalar(point[x_field], x_field)
        place = places.setdefault(x, len(places))
        if any(f in point for f in _Y):  # long: one value, its series named
            self.no_stray(point, {*_Y, *_X, *_KEY, "series", "name"})
            name = _first(point, ("series", "name") if x_field != "name" else ("series",))
            y = self.scalar(_first(point, _Y), "a point")
            yield _row(place, y, label=x, series=name, measure=_first(point, _KEY))
            return
        for field, value in point.items():  # wide: every other field is a series
            if field != x_field:
                yield _row(place, self.scalar(value, field), label=x, series=field, measure=field)

    def no_stray(self, item: dict[str, Any], known: set[str]) -> None:
        """A number outside the fields read is a value this reader would drop: refuse."""
        stray = [k for k, v in item.items() if k not in known and _is_number(v)]
        if stray:
            raise self.fail(f"a point with values in {stray} this reader does not place", item)

    # -- trees -----------------------------------------------------------------------

    def tree(self, payload: Any) -> list[dict[str, Any]]:
        """Nested `children`, or a flat list of nodes naming their parent's id."""
        nodes = [payload] if isinstance(payload, dict) else payload
        if not isinstance(nodes, list) or not all(isinstance(n, dict) for n in nodes):
            raise self.fail("a tree answer (a node or a list of node objects)", payload)
        flat = any(_first(n, _PARENT) not in (None, "") for n in nodes)
        if flat and not any(n.get("children") for n in nodes):
            return self.flat_tree(nodes)
        rows: list[dict[str, Any]] = []
        self.walk(nodes, None, 1, rows, itertools.count())
        return rows

    def walk(
        self, nodes: Any, parent: str | None, level: int, rows: list, places: Iterator[int]
    ) -> None:
        """Nested nodes depth first; a node without a key is known by its names' path."""
        if not isinstance(nodes, list):
            raise self.fail(f"children at level {level} that are no list", nodes)
        for node in nodes:
            if not isinstance(node, dict):
                raise self.fail(f"a node at level {level} that is not an object", node)
            name, key = _first(node, _TITLE), _first(node, _KEY)
            if key is None and name is None:
                raise self.fail("a node with neither key nor name", node)
            key = str(key) if key is not None else f"{parent} / {name}" if parent else str(name)
            rows += self.node_rows(next(places), node, name, key, parent, level)
            self.walk(node.get("children") or [], key, level + 1, rows, places)

    def flat_tree(self, nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Nodes that name their parent's id (Highcharts' treemap), in the order sent."""
        parents: dict[str, str | None] = {}
        for node in nodes:
            key = _first(node, _KEY)
            if key is None:
                raise self.fail("a node without an id in a tree of parent ids", node)
            parent = _first(node, _PARENT)
            parents[str(key)] = None if parent in (None, "") else str(parent)
        rows = []
        for index, node in enumerate(nodes):
            key = str(_first(node, _KEY))
            level = self.depth(key, parents, node)
            name = _first(node, _TITLE)
            rows += self.node_rows(index, node, name, key, parents[key], level)
        return rows

    def depth(self, key: str, parents: dict[str, str | None], node: dict) -> int:
        level, up = 1, parents[key]
        while up is not None:
            if up not in parents or level > len(parents):
                raise self.fail(f"node {key!r}: its parents do not lead to a top node", node)
            level, up = level + 1, parents[up]
        return level

    def node_rows(
        self, index: int, node: dict, name: Any, key: str, parent: str | None, level: int
    ) -> list[dict[str, Any]]:
        """One row per value the node carries; one with no value for a bare grouping node."""
        where = {"label": name, "node_key": key, "parent_key": parent, "level": level}
        values = [(f, v) for f, v in node.items() if f not in _NODE]
        if not values:
            return [_row(index, None, **where)]
        return [_row(index, self.scalar(v, f), measure=f, **where) for f, v in values]

    # -- key-value panels --------------------------------------------------------------

    def panel(self, payload: Any) -> list[dict[str, Any]]:
        """Cards and info panels: `{key: value}` or `[{name, value}]`; a value may itself
        be `{value, title, …}`; an entry's other fields become `<key>__<field>`."""
        if isinstance(payload, dict):
            items = [
                {"key": key, **value} if isinstance(value, dict) else {"key": key, "value": value}
                for key, value in payload.items()
            ]
        elif isinstance(payload, list) and all(isinstance(i, dict) for i in payload):
            items = payload
        else:
            raise self.fail("a key-value answer ({key: value} or a list of {name, value})", payload)
        rows = []
        for index, item in enumerate(items):
            key_field = next((f for f in (*_KEY, "name") if f in item), None)
            if key_field is None or "value" not in item:
                raise self.fail(f"entry {index + 1} has no key or no value", item)
            title_field = next((f for f in _TITLE if f in item and f != key_field), None)
            key, label = item[key_field], item.get(title_field) if title_field else None
            for field, value in item.items():
                if field not in (key_field, title_field):
                    measure = key if field == "value" else f"{key}__{field}"
                    rows.append(
                        _row(index, self.scalar(value, measure), label=label, measure=measure)
                    )
        return rows


def _row(index: int, raw: Any, **fields: Any) -> dict[str, Any]:
    """A long-form row; `raw` goes to `value` (a number, or a decimal string) or to
    `value_text` (any other text; true/false)."""
    row = {"position": index + 1, **fields}
    if row.get("label") is not None:
        row["label"] = str(row["label"])
    if isinstance(raw, bool):
        row["value_text"] = str(raw).lower()
    elif raw is None or isinstance(raw, int | float):
        row["value"] = None if raw is None else float(raw)
    elif isinstance(raw, str) and _DECIMAL.fullmatch(raw):
        row["value"] = float(raw)
    else:
        row["value_text"] = str(raw)
    return row


def _first(item: dict[str, Any], fields: tuple[str, ...]) -> Any:
    """The value of the first of `fields` the item has."""
    return next((item[f] for f in fields if f in item), None)


def _has_data(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("data"), list)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
