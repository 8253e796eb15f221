"""What the Datawiz test modules share: the example builder table, the settings that
shape a run, and the ground truth of `sales_by_shop` (tests/truth.py reads it too)."""

from __future__ import annotations

import json
from datetime import date

import pendulum

from sandbox import Sandbox
from tests.conftest import Cli

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


def summary(cli: Cli) -> dict:
    return json.loads((cli.tmp / "summary.json").read_text())["sources"][0]


ONE_CHUNK = {"SOURCES__DATAWIZ__CHUNK_DAYS": "100", "SOURCES__DATAWIZ__PAGE_SIZE": "9"}
CATEGORY_WIDGET = {
    "report": "category-sales",
    "widget": "table",
    "metrics": ["turnover"],
    "group_by_level": "category",
}


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]
