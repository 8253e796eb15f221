"""Datawiz end to end: the real CLI, over real HTTP, against the sandbox, into DuckDB."""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import parse_qs

import pendulum

from sandbox import Sandbox
from sandbox import datawiz as sim
from sandbox.datawiz_widgets import EXAMPLE_WIDGETS
from tests.conftest import Cli
from tests.datawiz_support import (
    SHOP_TABLE,
    expected_by_shop,
    loaded_by_shop,
    summary,
    tables_env,
    yesterday,
)


def builder_ranges(sandbox: Sandbox) -> set[tuple[str, str]]:
    return {
        (body["date_range"]["date_from"], body["date_range"]["date_to"])
        for body in (json.loads(r.body) for r in sandbox.datawiz.api.seen("/create-table/"))
    }


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
