"""Datawiz report widgets: week and month periods, snapshots, and the readers of the
charts, trees and cards."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta

import pytest

from sandbox import Sandbox
from sandbox import datawiz as sim
from sandbox.datawiz_widgets import EXAMPLE_WIDGETS
from sources.common.errors import ConfigError, MalformedResponse
from sources.datawiz import payloads
from sources.datawiz.queries import REPORT_WIDGETS, parse_reports, parse_tables
from tests.conftest import Cli
from tests.datawiz_support import (
    CATEGORY_WIDGET,
    SHOP_TABLE,
    error_lines,
    summary,
    tables_env,
    yesterday,
)
from tests.truth import data_tables


def test_week_and_month_widgets_sum_without_double_counting_over_overlapping_runs(
    cli: Cli, sandbox: Sandbox
) -> None:
    dw = sandbox.datawiz
    weekly = {**CATEGORY_WIDGET, "interval": "week"}
    monthly = {"report": "shops-sales", "widget": "table", "metrics": ["turnover"]}
    monthly["interval"] = "month"
    whole = {"report": "products-sales", "widget": "table", "metrics": ["turnover"]}
    env = {**tables_env(), "SOURCES__DATAWIZ__REPORTS": json.dumps([weekly, monthly, whole])}
    first, last = dw.first_day, yesterday()

    def truth(spec: dict, start: date, end: date) -> float:
        body = {"date_range": {"from": str(start), "to": str(end)}, "metrics": ["turnover"]}
        body["group_by_level"] = spec.get("group_by_level")
        rows, _ = dw.widget(spec["report"], "table", {k: v for k, v in body.items() if v})
        return round(sum(r["turnover"] for r in rows), 2)

    def periods(table: str) -> list[tuple]:
        return cli.sql(
            f"SELECT _period_start, _period_end, round(sum(turnover), 2) FROM datawiz.{table} "
            "GROUP BY 1, 2 ORDER BY 1"
        )

    for _ in range(2):  # the second run re-fetches the last period: the windows overlap
        result = cli("run", "datawiz", extra_env=env)
        assert result.code == 0, result.output

    monday = first - timedelta(days=first.weekday())
    weeks = periods("report_category_sales__table")
    assert [w[0] for w in weeks] == [
        monday + timedelta(days=7 * i) for i in range((last - monday).days // 7 + 1)
    ]
    for start, end, total in weeks:
        assert end == min(start + timedelta(days=6), last)
        assert total == truth(weekly, start, end)
    assert sum(w[2] for w in weeks) == pytest.approx(truth(weekly, monday, last))
    months = periods("report_shops_sales__table")
    assert months[0][0] == first.replace(day=1) and months[-1][1] == last
    for start, end, total in months:
        assert total == truth(monthly, start, end)
    assert cli.sql(
        "SELECT _window_from, _window_to, round(sum(turnover), 2) "
        "FROM datawiz.report_products_sales__table GROUP BY 1, 2"
    ) == [(first, last, truth(whole, first, last))]


def test_a_snapshot_widget_that_fails_keeps_its_last_good_snapshot(
    cli: Cli, sandbox: Sandbox
) -> None:
    """A widget without an interval is one snapshot, replaced only by a run that read it:
    a failed run (exit 1) leaves the last good snapshot, not an empty table."""
    whole = {"report": "products-sales", "widget": "table", "metrics": ["turnover"]}
    env = {**tables_env(), "SOURCES__DATAWIZ__REPORTS": json.dumps([whole])}
    query = "SELECT count(*), round(sum(turnover), 2) FROM datawiz.report_products_sales__table"
    first = cli("run", "datawiz", extra_env=env)
    assert first.code == 0, first.output
    loaded = cli.sql(query)
    assert loaded[0][0] > 0

    sandbox.apply_faults("datawiz.path=/products-sales/,datawiz.error_burst=100")
    failed = cli("run", "datawiz", extra_env=env)

    assert failed.code == 1, failed.output
    [line] = [x for x in failed.stderr.splitlines() if x.startswith("error:")]
    assert "report_products-sales__table" in line and "HTTP 503" in line
    assert cli.sql(query) == loaded


def test_a_widget_value_the_reader_cannot_place_fails_that_widget_and_holds_its_cursor(
    cli: Cli, sandbox: Sandbox
) -> None:
    """Every chart, tree and card answer carries a list where a value belongs: each
    widget fails on one line and loads nothing; the builder table loads all the same."""
    dw = sandbox.datawiz
    dw.odd_value = True
    env = {
        **tables_env(SHOP_TABLE),
        "SOURCES__DATAWIZ__REPORTS": json.dumps(EXAMPLE_WIDGETS),
        "SOURCES__DATAWIZ__START_DATE": str(yesterday()),
    }

    result = cli("run", "datawiz", "--summary-json", str(cli.tmp / "summary.json"), extra_env=env)

    assert result.code == 1, result.output
    errors = error_lines(result)
    assert len(errors) == len(EXAMPLE_WIDGETS) == dw.odd_values, result.stderr
    for spec in EXAMPLE_WIDGETS:
        table = f"report_{spec['report']}__{spec['widget']}"
        [line] = [e for e in errors if f"{table}:" in e]
        assert "holds a list, not a value" in line and "/data/" in line, line
    assert data_tables(cli, "datawiz") == {"sales_by_shop": len(sim.SHOPS)}
    cursors = summary(cli)["cursors_after"]
    assert cursors["sales_by_shop.next_day"] == str(yesterday() + timedelta(1))
    assert "report_shop-card__cards.next_day" not in cursors


def test_every_documented_widget_has_a_reader_and_chart_builder_tables_are_refused() -> None:
    """Checked when the settings are read, never after the run has started."""
    kinds = {
        parse_reports([{"report": r, "widget": w, "metrics": ["turnover"]}])[0].kind
        for r, widgets in REPORT_WIDGETS.items()
        for w in widgets
    }
    assert kinds == {payloads.TABLE, payloads.SERIES, payloads.TREE, payloads.PANEL}
    with pytest.raises(ConfigError, match="same query drawn as a chart"):
        parse_tables([{**SHOP_TABLE, "dtype": "chart"}])
    with pytest.raises(ConfigError, match="'pie' is not table or chart"):
        parse_tables([{**SHOP_TABLE, "dtype": "pie"}])
    assert parse_tables([{**SHOP_TABLE, "dtype": "table"}])[0].name == "sales_by_shop"


@pytest.mark.parametrize(
    ("kind", "answer", "says"),
    [
        (payloads.SERIES, {"chart": {"x": [1]}}, "a series answer"),
        (payloads.SERIES, {"labels": ["a", "b"], "datasets": [{"data": [1]}]}, "announced 2"),
        (payloads.SERIES, [{"x": "a", "y": 1, "z": 2}], "values in ['z']"),
        (payloads.SERIES, {"count": 3, "next": None, "results": [{"x": "a", "y": 1}]}, "sent 1"),
        (payloads.TREE, [{"id": "b", "parent": "a", "turnover": 1}], "do not lead to a top"),
        (payloads.TREE, [{"turnover": 1}], "neither key nor name"),
        (payloads.PANEL, [{"name": "turnover"}], "no key or no value"),
        (payloads.PANEL, "12.5", "a key-value answer"),
    ],
)
def test_the_widget_reader_refuses_what_it_cannot_place_with_one_line(
    kind: str, answer: object, says: str
) -> None:
    with pytest.raises(MalformedResponse, match=re.escape(says)) as raised:
        payloads.read(answer, kind, "POST /api/report/reports/r/widgets/w/data/")
    assert "\n" not in raised.value.line() and "/widgets/w/data/" in raised.value.line()
