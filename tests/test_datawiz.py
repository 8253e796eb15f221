"""Datawiz end to end: the real CLI, over real HTTP, against the sandbox, into DuckDB."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from urllib.parse import parse_qs

import pendulum
import pyarrow as pa
import pytest

from sandbox import Sandbox, dialect_cases, dialect_matrix
from sandbox import datawiz as sim
from sandbox.datawiz_widgets import EXAMPLE_WIDGETS, request_body, windows
from sources.common.errors import ConfigError, MalformedResponse
from sources.datawiz import payloads
from sources.datawiz.frames import Unreadable, read_days
from sources.datawiz.queries import REPORT_WIDGETS, parse_reports, parse_tables
from tests.conftest import Cli
from tests.truth import data_tables

SHOP_TABLE = {
    "name": "sales_by_shop",
    "aggregate": ["turnover", "qty", "profit", "receipts_qty"],
    "group_by": ["shop"],
}


NINE_DAYS = {
    "SOURCES__DATAWIZ__START_DATE": str(pendulum.yesterday("UTC").date().subtract(days=8)),
    "SOURCES__DATAWIZ__PAGE_SIZE": "9",
}


def tables_env(*tables: dict) -> dict[str, str]:
    return {"SOURCES__DATAWIZ__TABLES": json.dumps(list(tables))}


def yesterday() -> date:
    return pendulum.yesterday("UTC").date()


def expected_by_shop(sandbox: Sandbox, first: date, last: date) -> list[tuple]:
    """What the builder answers for turnover/qty by day and shop, straight from the sim."""
    rows, _ = sandbox.datawiz.table(
        {
            "date_range": {"selected": "date", "date_from": str(first), "date_to": str(last)},
            "aggregate": [{"metric": "turnover"}, {"metric": "qty"}],
            "group_by": [{"dimension": "day_month_year"}, {"dimension": "shop"}],
            "render_options": {"key_start": "day_month_year="},
        }
    )
    return sorted(
        (date.fromisoformat(r["day_month_year__name"]), r["shop__name"], r["turnover"], r["qty"])
        for r in rows
    )


def loaded_by_shop(cli: Cli) -> list[tuple]:
    return sorted(cli.sql("SELECT date, shop_name, turnover, qty FROM datawiz.sales_by_shop"))


def builder_ranges(sandbox: Sandbox) -> set[tuple[str, str]]:
    return {
        (body["date_range"]["date_from"], body["date_range"]["date_to"])
        for body in (json.loads(r.body) for r in sandbox.datawiz.api.seen("/create-table/"))
    }


def summary(cli: Cli) -> dict:
    return json.loads((cli.tmp / "summary.json").read_text())["sources"][0]


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


def test_multi_page_table_loads_exact_rows_with_credentials_on_api_hosts_only(
    cli: Cli, sandbox: Sandbox
) -> None:
    dw = sandbox.datawiz
    result = cli(
        "run",
        "datawiz",
        "--summary-json",
        str(cli.tmp / "summary.json"),
        extra_env={"SOURCES__DATAWIZ__PAGE_SIZE": "9"},
    )

    assert result.code == 0, result.output
    assert loaded_by_shop(cli) == expected_by_shop(sandbox, dw.first_day, yesterday())
    days = (yesterday() - dw.first_day).days + 1
    # 7-day chunks of 4 shops = 28 rows → pages 1..4 of 9 rows each
    pages = {r.query.get("page", ["1"])[0] for r in dw.api.seen("/create-table/")}
    assert pages == {"1", "2", "3", "4"}
    # the tree table: day → manager → category, flattened with parent keys and levels
    levels = cli.sql(
        "SELECT level, count(*), count(parent_key) FROM datawiz.category_managers "
        "GROUP BY level ORDER BY level"
    )
    assert levels == [(1, days, 0), (2, days * 3, days * 3), (3, days * 6, days * 6)]
    leaf = cli.sql(
        "SELECT parent_key, category_name FROM datawiz.category_managers "
        f"WHERE key = 'day_month_year={yesterday()}&categorical_manager=2&category=5636'"
    )
    assert leaf == [(f"day_month_year={yesterday()}&categorical_manager=2", "Produce")]
    stats = summary(cli)
    assert stats["status"] == "ok"
    assert stats["tables"]["sales_by_shop"] == days * len(sim.SHOPS)
    for request in dw.api.requests + dw.bi.requests:
        assert request.headers["client-id"] == sim.ACCOUNT_ID
        assert request.headers["authorization"].startswith("Bearer ")
    assert all("authorization" not in r.headers for r in dw.auth.requests)


def test_check_then_run_schema_carries_the_column_types_and_titles(
    cli: Cli, sandbox: Sandbox
) -> None:
    checked = cli("check", "datawiz")
    assert checked.code == 0, checked.output
    assert "datawiz: ok" in checked.stdout
    assert len(sandbox.datawiz.auth.requests) == 1 and len(sandbox.datawiz.api.requests) == 1

    assert cli("run", "datawiz").code == 0
    schema = json.loads(
        (cli.tmp / "dlt/pipelines/datawiz__duckdb/schemas/datawiz.schema.json").read_text()
    )
    columns = schema["tables"]["sales_by_shop"]["columns"]
    assert columns["turnover"]["data_type"] == "double"
    assert columns["turnover"]["description"] == "Sales"
    assert columns["shop_name"]["data_type"] == "text"
    assert columns["shop_name"]["description"] == "Shop Name"
    assert columns["day_month_year_name"]["data_type"] == "date"
    assert columns["date"]["merge_key"] and not columns["date"].get("primary_key")
    report = schema["tables"]["report_shops_sales__table"]["columns"]
    assert report["turnover_prev"]["data_type"] == "double"
    # the widget's own `date` field is kept apart from the day the source adds
    assert report["date__vendor"]["data_type"] == "date" and report["date"]["merge_key"]
    chart = schema["tables"]["report_shop_card__chart"]["columns"]  # a widget in long form
    assert chart["value"]["data_type"] == "double" and chart["position"]["data_type"] == "bigint"
    assert chart["series"]["description"] == "Series name" and chart["_snapshot_of"]["merge_key"]
    assert cli.sql(
        "SELECT data_type FROM information_schema.columns "
        "WHERE table_schema = 'datawiz' AND table_name = 'sales_by_shop' AND column_name = 'date'"
    ) == [("DATE",)]


def test_token_expiring_mid_run_is_renewed_and_every_row_loads(cli: Cli, sandbox: Sandbox) -> None:
    dw = sandbox.datawiz
    dw.expire_after_calls = 6  # the live tokens die after six API calls

    result = cli("run", "datawiz", extra_env={"SOURCES__DATAWIZ__PAGE_SIZE": "9"})

    assert result.code == 0, result.output
    assert loaded_by_shop(cli) == expected_by_shop(sandbox, dw.first_day, yesterday())
    assert [r for r in dw.api.requests + dw.bi.requests if r.status == 401]
    grants = [parse_qs(r.body.decode())["grant_type"][0] for r in dw.auth.requests]
    assert "refresh_token" in grants and grants[0] == "password"
    for secret in (sim.PASSWORD, sim.CLIENT_SECRET, sim.CLIENT_ID):
        assert secret not in result.output


def test_incremental_rerun_fetches_only_the_lookback_days_and_duplicates_nothing(
    cli: Cli, sandbox: Sandbox
) -> None:
    lookback = {"SOURCES__DATAWIZ__LOOKBACK_DAYS": "2"}
    assert cli("run", "datawiz", extra_env=lookback).code == 0
    counts = cli.sql(
        "SELECT (SELECT count(*) FROM datawiz.sales_by_shop), "
        "(SELECT count(*) FROM datawiz.category_managers), "
        "(SELECT count(*) FROM datawiz.report_shops_sales__table), "
        "(SELECT count(*) FROM datawiz.report_shop_card__cards)"
    )
    for server in sandbox.datawiz.servers:
        server.reset_log()

    second = cli(
        "run",
        "datawiz",
        "--summary-json",
        str(cli.tmp / "summary.json"),
        extra_env=lookback,
    )

    assert second.code == 0, second.output
    today = pendulum.today("UTC").date()
    assert builder_ranges(sandbox) == {(str(today - timedelta(days=2)), str(yesterday()))}
    daily = [json.loads(r.body) for r in sandbox.datawiz.bi.seen("/shops-sales/")]
    assert sorted(b["date_range"]["from"] for b in daily) == [
        str(today - timedelta(days=2)),
        str(yesterday()),
    ]
    weekly = [json.loads(r.body) for r in sandbox.datawiz.bi.seen("/shop-card/widgets/cards/")]
    mondays = {str(d - timedelta(d.weekday())) for d in (today - timedelta(2), yesterday())}
    assert sorted(b["date_range"]["from"] for b in weekly) == sorted(mondays)
    assert (
        cli.sql(
            "SELECT (SELECT count(*) FROM datawiz.sales_by_shop), "
            "(SELECT count(*) FROM datawiz.category_managers), "
            "(SELECT count(*) FROM datawiz.report_shops_sales__table), "
            "(SELECT count(*) FROM datawiz.report_shop_card__cards)"
        )
        == counts
    )
    assert loaded_by_shop(cli) == expected_by_shop(sandbox, sandbox.datawiz.first_day, yesterday())
    stats = summary(cli)
    assert stats["cursors_after"]["sales_by_shop.next_day"] == str(today)


def test_late_correction_in_the_lookback_window_replaces_the_old_value(
    cli: Cli, sandbox: Sandbox
) -> None:
    dw = sandbox.datawiz
    builder = {"SOURCES__DATAWIZ__REPORTS": "[]"}  # the builder's lookback
    assert cli("run", "datawiz", extra_env=builder).code == 0
    day = yesterday() - timedelta(days=1)
    product = next(iter(dw.products))
    query = (
        "SELECT turnover FROM datawiz.sales_by_shop "
        f"WHERE date = '{day}' AND shop_name = 'Store #2'"
    )
    before = cli.sql(query)
    dw.correct(day, 2, product, dw.fact(day, 2, product)[1] + 1_000_000)  # +10,000.00

    assert cli("run", "datawiz", extra_env=builder).code == 0  # lookback_days defaults to 3

    after = cli.sql(query)
    assert len(after) == 1 and round(after[0][0] - before[0][0], 2) == 10_000.0
    assert loaded_by_shop(cli) == expected_by_shop(sandbox, dw.first_day, yesterday())


def test_backfill_loads_its_days_without_moving_the_cursor_back(cli: Cli, sandbox: Sandbox) -> None:
    incremental = [s for s in sim.EXAMPLE_REPORTS + EXAMPLE_WIDGETS if "interval" in s]
    env = {**tables_env(SHOP_TABLE), "SOURCES__DATAWIZ__REPORTS": json.dumps(incremental)}
    assert cli("run", "datawiz", extra_env=env).code == 0
    sandbox.datawiz.api.reset_log()
    start = sandbox.datawiz.first_day + timedelta(days=3)

    result = cli(
        "run",
        "datawiz",
        "--start",
        str(start),
        "--end",
        str(start + timedelta(days=2)),
        "--summary-json",
        str(cli.tmp / "summary.json"),
        extra_env=env,
    )

    assert result.code == 0, result.output
    assert builder_ranges(sandbox) == {(str(start), str(start + timedelta(days=1)))}
    stats = summary(cli)
    assert stats["cursors_after"] == stats["cursors_before"]
    assert stats["tables"]["sales_by_shop"] == 2 * len(sim.SHOPS)


def test_a_typo_in_a_metric_key_exits_2_naming_it(cli: Cli) -> None:
    typo = {**SHOP_TABLE, "aggregate": ["turnover", "turnovr"]}
    result = cli("run", "datawiz", extra_env=tables_env(typo))
    assert result.code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "turnovr" in errors[0] and "sales_by_shop" in errors[0]
    assert "Traceback" not in result.stderr


def test_a_typo_in_a_dimension_key_exits_2_before_any_request(cli: Cli, sandbox: Sandbox) -> None:
    typo = {**SHOP_TABLE, "group_by": ["shp"]}
    result = cli("run", "datawiz", extra_env=tables_env(typo))
    assert result.code == 2, result.output
    assert "unknown dimension 'shp'" in result.stderr and "did you mean 'shop'" in result.stderr
    assert not sandbox.datawiz.auth.requests and not sandbox.datawiz.api.requests


def test_wrong_password_exits_3_and_prints_no_secret(cli: Cli, sandbox: Sandbox) -> None:
    wrong = "wrong-password-6c1f9e"
    for command in (
        ["run", "datawiz", "--summary-json", str(cli.tmp / "summary.json")],
        ["check", "datawiz"],
    ):
        result = cli(*command, extra_env={"SOURCES__DATAWIZ__PASSWORD": wrong})
        assert result.code == 3, result.output
        assert "invalid_grant" in result.stderr and "check username and password" in result.stderr
        for secret in (wrong, sim.PASSWORD, sim.CLIENT_SECRET, sim.CLIENT_ID, sim.USERNAME):
            assert secret not in result.output
    assert wrong not in (cli.tmp / "summary.json").read_text()
    assert not sandbox.datawiz.api.requests


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


def test_rows_whose_day_no_reading_fits_fail_the_chunk_and_hold_the_cursor(
    cli: Cli, sandbox: Sandbox
) -> None:
    one_chunk = {
        **tables_env(SHOP_TABLE),
        "SOURCES__DATAWIZ__REPORTS": "[]",
        "SOURCES__DATAWIZ__CHUNK_DAYS": "100",
    }
    sandbox.apply_faults("datawiz.unknown_shape=true")
    args = ("run", "datawiz", "--summary-json", str(cli.tmp / "summary.json"))

    failed = cli(*args, extra_env=one_chunk)

    assert failed.code == 1, failed.output
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, failed.stderr
    for part in ("datawiz", "sales_by_shop", "POST /api/builder/create-table/", "day_month_year=d"):
        assert part in errors[0], errors[0]
    assert "cannot read the day" in errors[0]
    assert data_tables(cli, "datawiz").get("sales_by_shop", 0) == 0
    stats = summary(cli)
    assert stats["cursors_after"] == stats["cursors_before"]

    sandbox.datawiz.unknown_shape = False
    fixed = cli(*args, extra_env=one_chunk)

    assert fixed.code == 0, fixed.output
    assert loaded_by_shop(cli) == expected_by_shop(sandbox, sandbox.datawiz.first_day, yesterday())
    assert summary(cli)["cursors_after"]["sales_by_shop.next_day"] == str(
        yesterday() + timedelta(1)
    )


@pytest.mark.parametrize("paging", ["page", "cursor"])
def test_a_paginator_that_makes_no_progress_fails_the_chunk_instead_of_looping(
    cli: Cli, sandbox: Sandbox, paging: str
) -> None:
    sandbox.apply_faults(f"datawiz.paging={paging},datawiz.stuck_paging=true")
    env = {**NINE_DAYS, **tables_env(SHOP_TABLE), "SOURCES__DATAWIZ__REPORTS": "[]"}

    result = cli("run", "datawiz", extra_env=env, timeout=60)

    assert result.code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "repeats" in errors[0] and "sales_by_shop" in errors[0]
    # the first chunk (7 days: 28 rows, 4 pages) fails; the second fits one page
    last_two = yesterday() - timedelta(days=1)
    assert loaded_by_shop(cli) == expected_by_shop(sandbox, last_two, yesterday())


def test_a_day_spelled_d_m_or_m_d_is_read_by_the_chunk_s_days_or_refused() -> None:
    april = (date(2026, 4, 1), date(2026, 4, 7))
    days, form = read_days(pa.array(["03/04/2026", "05/04/2026"]), april)
    assert form == "DD/MM/YYYY" and days.to_pylist() == [date(2026, 4, 3), date(2026, 4, 5)]
    days, form = read_days(pa.array(["04/03/2026", "04/05/2026"]), april)
    assert form == "MM/DD/YYYY" and days.to_pylist() == [date(2026, 4, 3), date(2026, 4, 5)]
    days, _ = read_days(pa.array(["04/04/2026"]), april)  # both readings agree
    assert days.to_pylist() == [date(2026, 4, 4)]
    spring = (date(2026, 3, 1), date(2026, 4, 30))
    with pytest.raises(Unreadable, match="read differently"):
        read_days(pa.array(["03/04/2026"]), spring)  # 3 April or 4 March: refused
    with pytest.raises(Unreadable, match="no day spelling fits"):
        read_days(pa.array(["30.11.2026", "day 42"]), None)


ONE_CHUNK = {"SOURCES__DATAWIZ__CHUNK_DAYS": "100", "SOURCES__DATAWIZ__PAGE_SIZE": "9"}
CATEGORY_WIDGET = {
    "report": "category-sales",
    "widget": "table",
    "metrics": ["turnover"],
    "group_by_level": "category",
}


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize(
    ("odd", "target", "says"),
    [
        ("null", "report_category-sales__table", "row 4 of 6 is not an object"),
        ("list", "sales_by_shop", "is not an object"),
        ("children", "report_category-sales__table", "a row with children in a flat answer"),
    ],
)
def test_a_middle_row_that_is_no_object_or_has_children_fails_its_part_with_one_line(
    cli: Cli, sandbox: Sandbox, odd: str, target: str, says: str
) -> None:
    widget = target.startswith("report_")
    env = {
        **ONE_CHUNK,
        **tables_env(*([] if widget else [SHOP_TABLE])),
        "SOURCES__DATAWIZ__REPORTS": json.dumps([CATEGORY_WIDGET] if widget else []),
    }
    sandbox.datawiz.odd_row = odd

    result = cli("run", "datawiz", "--summary-json", str(cli.tmp / "summary.json"), extra_env=env)

    assert result.code == 1, result.output
    errors = error_lines(result)
    assert len(errors) == 1 and target in errors[0] and says in errors[0], result.stderr
    assert sandbox.datawiz.odd_rows and "Traceback" not in result.stderr
    assert data_tables(cli, "datawiz").get(target.replace("-", "_"), 0) == 0
    stats = summary(cli)
    assert stats["cursors_after"] == stats["cursors_before"]


def test_a_field_only_middle_rows_carry_is_loaded_not_dropped(cli: Cli, sandbox: Sandbox) -> None:
    dw = sandbox.datawiz
    dw.odd_row = "sparse"
    env = {**ONE_CHUNK, **tables_env(SHOP_TABLE), "SOURCES__DATAWIZ__REPORTS": "[]"}

    result = cli("run", "datawiz", extra_env=env)

    assert result.code == 0, result.output
    assert dw.odd_rows > 1
    notes = cli.sql("SELECT promo_note, count(*) FROM datawiz.sales_by_shop GROUP BY 1 ORDER BY 1")
    rows = len(loaded_by_shop(cli))
    assert notes == [("late", dw.odd_rows), (None, rows - dw.odd_rows)]


def test_rows_with_no_day_in_key_nor_a_known_field_fail_instead_of_loading_as_totals(
    cli: Cli, sandbox: Sandbox
) -> None:
    """The vendor keys rows `shop=1` and spells the day in a field this source does not
    know (`day_month_year__id`): every row would look like a total row."""
    sandbox.datawiz.day_key = "none"
    by_id = {
        **SHOP_TABLE,
        "group_by": [{"dimension": "day_month_year", "display_fields": ["id"]}, "shop"],
    }
    env = {**ONE_CHUNK, **tables_env(by_id), "SOURCES__DATAWIZ__REPORTS": "[]"}

    result = cli("run", "datawiz", "--summary-json", str(cli.tmp / "summary.json"), extra_env=env)

    assert result.code == 1, result.output
    errors = error_lines(result)
    assert len(errors) == 1 and "sales_by_shop" in errors[0], result.stderr
    assert "rows with no day in their key or day fields" in errors[0]
    assert data_tables(cli, "datawiz").get("sales_by_shop", 0) == 0
    stats = summary(cli)
    assert stats["cursors_after"] == stats["cursors_before"]


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
