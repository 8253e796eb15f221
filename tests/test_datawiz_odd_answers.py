"""Datawiz builder answers the source cannot take as they come: days in two or no known
spellings, pages that make no progress, rows that are no object or carry no day, and
fields only some rows carry."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pyarrow as pa
import pytest

from sandbox import Sandbox
from sources.datawiz.frames import Unreadable, read_days
from tests.conftest import Cli
from tests.datawiz_support import (
    CATEGORY_WIDGET,
    NINE_DAYS,
    ONE_CHUNK,
    SHOP_TABLE,
    error_lines,
    expected_by_shop,
    loaded_by_shop,
    summary,
    tables_env,
    yesterday,
)
from tests.truth import data_tables


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
