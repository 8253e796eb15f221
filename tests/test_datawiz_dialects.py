"""Datawiz in every dialect the simulator speaks: every example table and widget holds
exactly what the simulator serves, after a full and an incremental run."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from sandbox import Sandbox, dialect_cases, dialect_matrix
from sandbox import datawiz as sim
from sandbox.datawiz_widgets import EXAMPLE_WIDGETS, request_body, windows
from sources.datawiz import payloads
from tests.conftest import Cli
from tests.datawiz_support import NINE_DAYS, expected_by_shop, loaded_by_shop, yesterday


def expected_tree(sandbox: Sandbox, first: date, last: date) -> list[tuple]:
    """The example tree table (day → manager → category), flattened, from the sim."""
    groups = ["day_month_year", "categorical_manager", "category"]
    rows, _ = sandbox.datawiz.table(
        {
            "date_range": {"selected": "date", "date_from": str(first), "date_to": str(last)},
            "aggregate": [{"metric": "turnover"}],
            "group_by": [{"dimension": d} for d in groups],
            "options": {"expand_tree": True},
            "render_options": {"key_start": "day_month_year="},
        }
    )
    out = []

    def walk(row: dict, day: date) -> None:
        names = (row.get("categorical_manager__name"), row.get("category__name"))
        out.append((day, row["level"], *names, row["turnover"]))
        for child in row["children"]:
            walk(child, day)

    for row in rows:
        walk(row, date.fromisoformat(row["day_month_year__name"]))
    return sorted(out, key=str)


def loaded_tree(cli: Cli) -> list[tuple]:
    rows = cli.sql(
        "SELECT date, level, categorical_manager_name, category_name, turnover "
        "FROM datawiz.category_managers"
    )
    return sorted(rows, key=str)


def expected_reports(
    sandbox: Sandbox, first: date, windows: list[tuple[date, date]]
) -> dict[str, list]:
    """The two example widgets: daily rows from `first` on, and one snapshot of each
    `windows` entry (the windows a source fetched, as it keeps them)."""
    dw = sandbox.datawiz
    days = {"from": str(first), "to": str(yesterday())}
    daily, _ = dw.widget(
        "shops-sales",
        "table",
        {"date_range": days, "metrics": ["turnover", "qty"], "interval": "day_month_year"},
    )
    snapshots = []
    for start, end in windows:
        rows, _ = dw.widget(
            "category-sales",
            "table",
            {
                "date_range": {"from": str(start), "to": str(end)},
                "metrics": ["turnover", "profit"],
                "group_by_level": "category",
            },
        )
        snapshots += [(start, end, r["category__name"], r["turnover"], r["profit"]) for r in rows]
    return {
        "daily": sorted(
            (date.fromisoformat(r["date"]), r["shop__name"], r["turnover"], r["qty"]) for r in daily
        ),
        "snapshot": sorted(snapshots),
    }


def loaded_reports(cli: Cli) -> dict[str, list]:
    return {
        "daily": sorted(
            cli.sql("SELECT date, shop_name, turnover, qty FROM datawiz.report_shops_sales__table")
        ),
        "snapshot": sorted(
            cli.sql(
                "SELECT _window_from, _window_to, category_name, turnover, profit "
                "FROM datawiz.report_category_sales__table"
            )
        ),
    }


LONG_FORM = {  # the columns of a non-table widget's table, per kind (payloads.py)
    "series": ("position", "label", "series", "measure", "value"),
    "tree": ("position", "label", "node_key", "parent_key", "level", "measure", "value"),
    "key-value": ("position", "label", "measure", "value", "value_text"),
}


def widget_table(spec: dict) -> str:
    return f"report_{spec['report']}__{spec['widget']}".replace("-", "_")


def expected_widgets(sandbox: Sandbox, first: date) -> dict[str, list]:
    """The example chart, cards, info panel and treemap from `first` on, in long form:
    the weekly cards a week per request, the others one snapshot, with their days."""
    out = {}
    for spec in EXAMPLE_WIDGETS:
        columns = LONG_FORM[payloads.KINDS[spec["widget"]]]
        rows = []
        for lo, hi in windows(spec, first, yesterday()):
            truth = sandbox.datawiz.widget_truth(
                spec["report"], spec["widget"], request_body(spec, lo, hi)
            )
            rows += [(lo, hi, *(row.get(c) for c in columns)) for row in truth]
        out[widget_table(spec)] = sorted(rows, key=repr)
    return out


def loaded_widgets(cli: Cli) -> dict[str, list]:
    out = {}
    for spec in EXAMPLE_WIDGETS:
        stamp = "_period_start, _period_end" if "interval" in spec else "_window_from, _window_to"
        columns = ", ".join(LONG_FORM[payloads.KINDS[spec["widget"]]])
        rows = cli.sql(f"SELECT {stamp}, {columns} FROM datawiz.{widget_table(spec)}")
        out[widget_table(spec)] = sorted(rows, key=repr)
    return out


def assert_ground_truth(
    cli: Cli, sandbox: Sandbox, first: date, parts: tuple[str, ...] = ("tables", "reports")
) -> None:
    """Every example table (of `parts`) holds exactly what the simulator serves from
    `first` on, whatever its dialect."""
    last = yesterday()
    if "tables" in parts:
        assert loaded_by_shop(cli) == expected_by_shop(sandbox, first, last)
        assert loaded_tree(cli) == expected_tree(sandbox, first, last)
    if "reports" in parts:
        windows = cli.sql(
            "SELECT DISTINCT _window_from, _window_to FROM datawiz.report_category_sales__table"
        )
        assert loaded_reports(cli) == expected_reports(sandbox, first, windows)
        assert loaded_widgets(cli) == expected_widgets(sandbox, first)


# A case whose knobs only change the builder's answers loads the builder tables alone;
# one whose knobs only change widget answers, the report widgets alone; others load all.
ONLY = {
    **dict.fromkeys(("day_key", "builder_host", "paging", "total_row"), ("tables",)),
    **dict.fromkeys(("widget_shape", "series_shape", "tree_shape", "panel_shape"), ("reports",)),
}
# Knobs whose forms change incremental reading run a second, incremental load: the day
# of a row (day_key) and total rows, counted but not loaded (total_row); and the default.
RERUN = ("default", "day_key", "total_row")


def run_in_dialect(cli: Cli, sandbox: Sandbox, case: str) -> tuple[dict, tuple[str, ...]]:
    """A run of the example tables and widgets over nine days (chunks of 7 + 2 days,
    pages of 9 rows) with the simulator speaking `case`; every table must be exact.
    Returns the run's settings and which parts it loaded."""
    sandbox.apply_dialect("datawiz", case)
    scopes = {ONLY.get(item.split("=")[0]) for item in case.split(",")}
    parts = scopes.pop() if len(scopes) == 1 and None not in scopes else ("tables", "reports")
    env = dict(NINE_DAYS)
    if parts != ("tables", "reports"):
        env[f"SOURCES__DATAWIZ__{'REPORTS' if parts == ('tables',) else 'TABLES'}"] = "[]"
    result = cli("run", "datawiz", extra_env=env)
    assert result.code == 0, result.output
    assert_ground_truth(cli, sandbox, yesterday() - timedelta(days=8), parts)
    return env, parts


@pytest.mark.parametrize("case", dialect_cases(sim.DatawizSim))
def test_every_dialect_loads_exactly_the_ground_truth_full_and_incremental(
    cli: Cli, sandbox: Sandbox, case: str
) -> None:
    env, parts = run_in_dialect(cli, sandbox, case)
    if case.split("=")[0] not in RERUN:
        return

    again = cli("run", "datawiz", extra_env=env)

    assert again.code == 0, again.output
    assert_ground_truth(cli, sandbox, yesterday() - timedelta(days=8), parts)


@pytest.mark.slow
@pytest.mark.parametrize("case", dialect_matrix(sim.DatawizSim), ids=str)
def test_every_combination_of_dialects_loads_exactly_the_ground_truth(
    cli: Cli, sandbox: Sandbox, case: str
) -> None:
    run_in_dialect(cli, sandbox, case)
