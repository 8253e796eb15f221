"""Kissmetrics' reports and products: which reports `product_ids` picks, and what the
next listing does to renamed and deleted reports and a failed product read."""

from __future__ import annotations

import json

from sandbox import Sandbox
from sandbox.kissmetrics import REPORTS
from sandbox.kissmetrics_metadata import MOBILE_PRODUCT_ID, PRODUCTS
from tests.conftest import Cli
from tests.kissmetrics_support import assert_exact, assert_metadata_exact, error_lines, runs_loaded


def test_product_ids_pick_reports_by_their_product_and_report_details_can_be_switched_off(
    cli: Cli, sandbox: Sandbox
) -> None:
    km = sandbox.kissmetrics
    mobile = [r for r in REPORTS if km.product_of(r.id) == MOBILE_PRODUCT_ID]
    settings = {
        "SOURCES__KISSMETRICS__PRODUCT_IDS": json.dumps([MOBILE_PRODUCT_ID]),
        "SOURCES__KISSMETRICS__REPORT_DETAILS": "false",
    }

    result = cli("run", "kissmetrics", extra_env=settings)

    assert result.code == 0, result.output
    # the list takes no product filter: the source asks only the product's reports to run
    ran = {r.path.split("/reports/")[1].split("/")[0] for r in km.query.seen("/run", "POST")}
    assert ran == {r.id for r in mobile}
    assert [r.path for r in km.api.seen("/core/products/")] == [
        f"/core/products/{MOBILE_PRODUCT_ID}"
    ]
    assert sorted(cli.sql("SELECT id FROM kissmetrics.reports")) == [(r.id,) for r in mobile]
    assert cli.sql("SELECT id, name FROM kissmetrics.products") == [
        (MOBILE_PRODUCT_ID, PRODUCTS[MOBILE_PRODUCT_ID])
    ]
    assert_exact(cli, sandbox, reports=[r.name for r in mobile])
    assert {rid for rid, *_ in runs_loaded(cli)} == {r.id for r in mobile}
    tables = {
        name
        for (name,) in cli.sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'kissmetrics'"
        )
    }
    assert "report_signups_by_channel" not in tables
    # report_details = false: no Report Details asked for, no table
    assert not km.api.seen("/core/reports/") and "report_details" not in tables


def test_renamed_and_deleted_reports_and_a_failed_product_read_on_the_next_listing(
    cli: Cli, sandbox: Sandbox
) -> None:
    """The second listing renames one report and lacks another, and every product read
    fails: results tables are fixed per report id on first sight (a renamed report keeps
    its table and history); `reports` and `report_details` hold what the list has now;
    the products part fails with one line and keeps its last snapshot."""
    assert cli("run", "kissmetrics").code == 0
    km = sandbox.kissmetrics
    products = sorted(cli.sql("SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM kissmetrics.products"))
    renamed = next(r for r in REPORTS if r.name == "Signups by Channel")
    gone = next(r for r in REPORTS if r.name == "Revenue per Person")
    kept = sorted(cli.sql("SELECT * FROM kissmetrics.report_revenue_per_person"), key=repr)
    km.renamed = {renamed.id: "Signups (all channels)"}
    km.deleted_reports = {gone.id}
    km.api.faults.path = "/core/products/"
    km.api.faults.error_burst = 100  # every product read fails, retries and all

    second = cli("run", "kissmetrics")

    assert second.code == 1, second.output
    errors = error_lines(second)
    assert len(errors) == 1 and errors[0].startswith("error: kissmetrics: products: GET /core/pro")
    after = sorted(cli.sql("SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM kissmetrics.products"))
    assert after == products
    assert_metadata_exact(cli, sandbox, products=False)
    assert cli.sql(
        f"SELECT name, results_table FROM kissmetrics.reports WHERE id = '{renamed.id}'"
    ) == [("Signups (all channels)", "report_signups_by_channel")]
    names = {
        n
        for (n,) in cli.sql(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'kissmetrics'"
        )
    }
    assert not any("all_channels" in n for n in names), names
    assert_exact(cli, sandbox, reports=("Signups by Channel", "Active People"))
    # the deleted report's results stay as loaded
    assert sorted(cli.sql("SELECT * FROM kissmetrics.report_revenue_per_person"), key=repr) == kept
