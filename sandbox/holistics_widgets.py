"""The Holistics simulator's dashboards, widgets and their CSV exports.

Data is computed, not stored: widget w's row i derives from (w, i); tests revise rows
and read the ground truth back from here (`csv_rows`). CSV exports are streamed row by
row (any size, constant memory): UTF-8 BOM, CRLF, every text field quoted, embedded
quotes, commas and line breaks, unquoted empty = NULL, quoted empty = "", zero-padded
codes, unicode; a dashboard's `between` condition on a widget's date filter applied."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sandbox import holistics_realistic as realistic
from sandbox.simulator import stable_hash

N_DASHBOARDS = 23


REGIONS = ("APAC", "EMEA", "NA", "LATAM", "ANZ")


PLANS = ("free", "starter", "pro", "enterprise")


NOTES: tuple[str | None, ...] = (
    "plain",
    "comma, inside",
    'quote "inside" here',
    "line\nbreak",
    "crlf\r\nbreak",
    "",
    None,
    "unicode ü 日本 🚀",
    "  spaced  ",
    '"",',
)


@dataclass
class Widget:
    id: int
    dashboard_id: int
    title: str
    kind: str  # "sales" (dated, many rows) or "plans" (small, typed)
    rows: int

    @property
    def date_filter_id(self) -> int:
        return self.dashboard_id * 10 + 1


SALES_HEADER = ["Row ID", "Order Date", "Region", "Orders", "Revenue", "Code", "Note", "Created At"]


PLANS_HEADER = ["Plan", "Users", "Share", "Active", "Updated"]


CLASHING_HEADER = ["Plan", "PLAN", "_widget_id", "Active", "Updated"]


def _field(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return str(value)
    return '"' + str(value).replace('"', '""') + '"'


class WidgetData:
    """Mixed into `HolisticsSim` (which has the data range, `days` and the knobs)."""

    data_start: datetime
    days: int
    revised: dict[tuple[int, int], list[Any]]
    clashing_header: bool
    short_widgets: set[str]

    def _build(self, rows: int) -> None:
        self.dashboards: list[dict[str, Any]] = []
        self.widgets: dict[int, Widget] = {}
        next_widget = 100
        # every sales widget covers every day of the data range, at least twice
        per_widget = max(2 * self.days, rows // N_DASHBOARDS)
        for d in range(1, N_DASHBOARDS + 1):
            for k in range(1 + d % 3):
                kind = "sales" if k == 0 else "plans"
                self.widgets[next_widget] = Widget(
                    next_widget,
                    d,
                    f"Dashboard {d} widget {k + 1}",
                    kind,
                    per_widget if kind == "sales" else len(PLANS) * 3,
                )
                next_widget += 1
            self.dashboards.append({"id": d, "title": f"Dashboard {d}", "category_id": d % 4})

    def widgets_of(self, dashboard_id: int) -> list[Widget]:
        return [w for w in self.widgets.values() if w.dashboard_id == dashboard_id]

    def day_of(self, widget: Widget, i: int) -> date:
        return self.data_start.date() + timedelta(days=i * self.days // widget.rows)

    def row(self, widget: Widget, i: int) -> list[Any]:
        if (widget.id, i) in self.revised:
            return list(self.revised[(widget.id, i)])
        h = stable_hash(widget.id, i)
        if widget.kind == "sales":
            day = self.day_of(widget, i)
            created = datetime.combine(day, datetime.min.time()) + timedelta(seconds=h % 86_400)
            return [
                i + 1,
                day.isoformat(),
                REGIONS[h % len(REGIONS)],
                h % 1_000,
                round((h % 10_000_000) / 100, 2),
                f"{h % 100_000:05d}",
                NOTES[i % len(NOTES)],
                created.strftime("%Y-%m-%d %H:%M:%S"),
            ]
        updated = self.data_start + timedelta(hours=i)
        return [
            f"{PLANS[i % len(PLANS)]}-{i // len(PLANS)}",
            h % 5_000,
            round((h % 1_000) / 1_000, 3),
            "true" if h % 2 else "false",
            updated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        ]

    def header(self, widget: Widget) -> list[str]:
        if widget.kind == "sales":
            return SALES_HEADER
        return CLASHING_HEADER if self.clashing_header else PLANS_HEADER

    def csv_rows(
        self, widget_id: int | str, conditions: list[dict[str, Any]] | None = None
    ) -> Iterator[list[Any]]:
        """The rows an export of the widget holds under these filter conditions."""
        widget = self.widgets[int(widget_id)]
        window = self._window(widget, conditions or [])
        for i in range(widget.rows):
            if window and widget.kind == "sales":
                day = self.day_of(widget, i).isoformat()
                if not window[0] <= day <= window[1]:
                    continue
            yield self.row(widget, i)

    def revise(self, widget_id: int, i: int, row: list[Any]) -> None:
        self.revised[(widget_id, i)] = row

    @staticmethod
    def _window(widget: Widget, conditions: list[dict[str, Any]]) -> tuple[str, str] | None:
        for c in conditions:
            if str(c.get("dynamic_filter_id")) != str(widget.date_filter_id):
                continue
            condition = c.get("condition") or {}
            values = condition.get("values") or []
            if condition.get("operator") == "between" and len(values) == 2:
                return str(values[0])[:10], str(values[1])[:10]
        return None

    def _csv_chunks(self, widget: Widget, conditions: list[dict[str, Any]]) -> Iterator[bytes]:
        if widget.kind == realistic.KIND:
            window = self._window(widget, conditions)
            yield from realistic.csv_chunks(widget, self.data_start.date(), self.days, window)
            return
        lines = ["\ufeff" + ",".join(_field(h) for h in self.header(widget))]
        rows: Iterator[list[Any]] = self.csv_rows(widget.id, conditions)
        if str(widget.id) in self.short_widgets:
            rows = iter(list(rows)[:-1])
        for row in rows:
            lines.append(",".join(_field(v) for v in row))
            if len(lines) >= 500:
                yield ("\r\n".join(lines) + "\r\n").encode()
                lines = []
        if lines:
            yield ("\r\n".join(lines) + "\r\n").encode()
