"""What the Kissmetrics test modules share: the reports' tables, their ground truth and
what was loaded (tests/truth.py and tests/test_destinations.py read them too)."""

from __future__ import annotations

import json
from datetime import UTC

from sandbox import Sandbox
from tests.conftest import Cli

DAILY = {"SOURCES__KISSMETRICS__WINDOW_DAYS": "1", "SOURCES__KISSMETRICS__LOOKBACK_DAYS": "1"}
# report → table and its columns in the default dialect (tests/test_destinations.py too)
TABLES = {
    "Signups by Channel": (
        "report_signups_by_channel",
        ["identity", "email", "channel", "signed_up_at", "revenue"],
    ),
    "Revenue per Person": ("report_revenue_per_person", ["identity", "col_1", "col_2", "col_3"]),
    "Active People": ("report_active_people", ["identity", "col_1", "col_2"]),
}
OWN_COLUMNS = ("_window_start", "_window_end", "_row_number", "_dlt_load_id", "_dlt_id")


def loaded(cli: Cli, report: str, width: int) -> list[tuple]:
    """The report's first `width` vendor columns, by position: their names depend on the
    dialect (positional rows are named by the definition, objects by their keys)."""
    table, _ = TABLES[report]
    names = [
        name
        for (name,) in cli.sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = "
            f"'kissmetrics' AND table_name = '{table}' ORDER BY ordinal_position"
        )
        if name not in OWN_COLUMNS
    ][:width]
    listed = ", ".join(f'"{name}"' for name in names)
    return sorted(cli.sql(f"SELECT {listed} FROM kissmetrics.{table}"), key=repr)


def truth(sandbox: Sandbox, report: str) -> list[tuple]:
    return sorted((tuple(row) for row in sandbox.kissmetrics.ground_truth()[report]), key=repr)


def assert_exact(cli: Cli, sandbox: Sandbox, reports=tuple(TABLES)) -> None:
    for report in reports:
        expected = truth(sandbox, report)
        width = max((len(row) for row in expected), default=0)
        assert loaded(cli, report, width) == expected, report


def assert_metadata_exact(cli: Cli, sandbox: Sandbox, *, products: bool = True) -> None:
    """`reports`, `products`, `accounts` and `report_details` hold what the simulator lists
    now, nothing more (a deleted object leaves its table)."""
    km = sandbox.kissmetrics
    expected = km.metadata_truth()
    reports = cli.sql("SELECT id, name FROM kissmetrics.reports")
    assert sorted(reports) == sorted((r.id, km.renamed.get(r.id, r.name)) for r in km.listed())
    if products:
        products_loaded = cli.sql("SELECT id, name FROM kissmetrics.products")
        assert sorted(products_loaded) == expected["products"]
    assert cli.sql("SELECT id, name FROM kissmetrics.accounts") == expected["accounts"]
    details = cli.sql("SELECT id, name, description FROM kissmetrics.report_details")
    assert sorted(details) == expected["report_details"]


def runs_loaded(cli: Cli) -> list[tuple]:
    """`report_runs` as (report id, window start in UTC, export link, rows)."""
    rows = cli.sql("SELECT report_id, _window_start, export_url, rows FROM kissmetrics.report_runs")
    return sorted((rid, start.astimezone(UTC), export, n) for rid, start, export, n in rows)


def summary(cli: Cli) -> dict:
    return json.loads((cli.tmp / "summary.json").read_text())["sources"][0]


def error_lines(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]
