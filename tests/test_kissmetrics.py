"""Kissmetrics end to end: the real CLI, over real HTTP, against the sandbox, into DuckDB."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, timedelta

import pendulum
import pytest

from sandbox import Sandbox, dialect_cases, dialect_matrix
from sandbox.kissmetrics import REPORTS, KissmetricsSim
from sandbox.kissmetrics_metadata import MOBILE_PRODUCT_ID, PRODUCTS
from sources.common.errors import MalformedResponse
from sources.common.windows import Window
from sources.kissmetrics import column_names
from sources.kissmetrics.client import Client, session
from sources.kissmetrics.config import KissmetricsConfig
from tests.conftest import Cli

UNIX_DATES = "run_dates=unix"
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


# `run_dates=unix` is the first run of test_the_date_form_the_host_takes_…, which asserts
# the same of it
@pytest.mark.parametrize("case", [c for c in dialect_cases(KissmetricsSim) if c != UNIX_DATES])
def test_full_load_matches_ground_truth_in_every_dialect(
    cli: Cli, sandbox: Sandbox, case: str
) -> None:
    sandbox.apply_dialect("kissmetrics", case)

    result = cli("run", "kissmetrics", "--summary-json", str(cli.tmp / "summary.json"))

    assert result.code == 0, result.output
    assert_exact(cli, sandbox)
    assert_metadata_exact(cli, sandbox)
    assert runs_loaded(cli) == sandbox.kissmetrics.runs_truth()  # each window's export link
    stats = summary(cli)
    assert stats["status"] == "ok"
    assert stats["tables"]["report_signups_by_channel"] == 200
    assert stats["requests"] > 0
    assert set(stats["cursors_after"]) == {f"report_results.{r.id}" for r in REPORTS}
    assert "report_signups_by_channel" in result.stdout  # the summary table


def test_the_date_form_the_host_takes_is_found_once_and_remembered(
    cli: Cli, sandbox: Sandbox
) -> None:
    query = sandbox.kissmetrics.query
    sandbox.apply_dialect("kissmetrics", UNIX_DATES)  # the prose's form, not the example's

    first = cli("run", "kissmetrics")

    assert first.code == 0, first.output
    assert_exact(cli, sandbox)  # this run is the full load of the `run_dates=unix` dialect
    assert_metadata_exact(cli, sandbox)
    assert runs_loaded(cli) == sandbox.kissmetrics.runs_truth()
    refused = [json.loads(r.body) for r in query.seen("/run", "POST") if r.status == 400]
    assert refused and all(isinstance(body["start_date"], str) for body in refused)
    query.reset_log()

    rerun = cli("run", "kissmetrics")

    assert rerun.code == 0, rerun.output
    posts = query.seen("/run", "POST")
    assert posts and all(r.status == 202 for r in posts)  # Unix seconds from the start
    assert all(isinstance(json.loads(r.body)["start_date"], int) for r in posts)
    assert_exact(cli, sandbox)


def test_rerun_asks_only_for_the_lookback_window_and_brings_late_rows_and_corrections(
    cli: Cli, sandbox: Sandbox
) -> None:
    assert cli("run", "kissmetrics", extra_env=DAILY).code == 0
    km = sandbox.kissmetrics
    data = km.report("Signups by Channel")
    yesterday = (pendulum.today("UTC").subtract(days=1)).add(hours=12)
    index = data.index_range(yesterday, yesterday + timedelta(hours=6))[0]
    corrected = data.row(index)
    corrected[4] = 12345.67
    km.revise("Signups by Channel", index, corrected)
    km.add_late_row(
        "Signups by Channel",
        yesterday,
        [999_999, "late@example.com", "email", yesterday.isoformat(), 1.5],
    )
    km.query.reset_log()

    second = cli("run", "kissmetrics", extra_env=DAILY)

    assert second.code == 0, second.output
    starts = {pendulum.parse(json.loads(r.body)["start_date"]) for r in km.query.seen("/run")}
    # cursor = today 00:00 (last complete day); lookback 1 day → yesterday and today only
    today = pendulum.today("UTC")
    assert starts == {today.subtract(days=1), today}
    assert_exact(cli, sandbox)  # the late row once, the correction in place, nothing doubled
    assert cli.sql(
        f"SELECT revenue FROM kissmetrics.report_signups_by_channel WHERE identity = {corrected[0]}"
    ) == [(12345.67,)]
    assert runs_loaded(cli) == km.runs_truth()  # re-fetched windows: rows counted anew


def test_results_pages_are_fetched_by_offset_page_concurrency_at_a_time(
    cli: Cli, sandbox: Sandbox
) -> None:
    query = sandbox.kissmetrics.query
    query.faults.path = "/results"
    query.faults.slow_seconds = 0.05  # long enough for requests in flight to overlap
    settings = {
        "SOURCES__KISSMETRICS__PAGE_SIZE": "7",
        "SOURCES__KISSMETRICS__PAGE_CONCURRENCY": "3",
        "SOURCES__KISSMETRICS__CONCURRENCY": "1",  # one report run at a time
    }

    result = cli("run", "kissmetrics", extra_env=settings)

    assert result.code == 0, result.output
    assert_exact(cli, sandbox)
    assert query.peak_in_flight == 3
    offsets: dict[str, list[int]] = {}
    for request in query.seen("/results", "GET"):
        assert request.query["limit"] == ["7"]
        offsets.setdefault(request.path, []).append(int(request.query["offset"][0]))
    for asked in offsets.values():  # every page once, none skipped, none asked twice
        assert sorted(asked) == list(range(0, max(asked) + 1, 7))


def test_survives_a_429_storm_and_5xx_bursts(cli: Cli, sandbox: Sandbox) -> None:
    km = sandbox.kissmetrics
    km.query.faults.rate_limit_burst = 6
    km.query.faults.retry_after = 0.05
    km.query.faults.error_burst = 6
    km.api.faults.error_burst = 2

    result = cli("run", "kissmetrics", "--summary-json", str(cli.tmp / "summary.json"))

    assert result.code == 0, result.output
    assert_exact(cli, sandbox)
    assert summary(cli)["retries"] >= 14
    assert km.query.served_429 == 6


def test_connection_reset_mid_body_is_retried(cli: Cli, sandbox: Sandbox) -> None:
    sandbox.kissmetrics.query.faults.path = "/results"
    sandbox.kissmetrics.query.faults.reset_bodies = 3
    result = cli("run", "kissmetrics")
    assert result.code == 0, result.output
    assert_exact(cli, sandbox)


def test_a_job_that_never_completes_fails_only_its_report_and_not_window_by_window(
    cli: Cli, sandbox: Sandbox
) -> None:
    stuck = next(r for r in REPORTS if r.name == "Active People")
    sandbox.kissmetrics.never_complete = {stuck.id}
    settings = {
        "SOURCES__KISSMETRICS__JOB_TIMEOUT": "0.5",
        "SOURCES__KISSMETRICS__CONCURRENCY": "2",
    }

    result = cli("run", "kissmetrics", extra_env=settings)

    assert result.code == 1
    errors = error_lines(result)
    assert len(errors) == 1 and "report_active_people" in errors[0]
    assert "did not finish within 0.5 s" in errors[0]
    windows = len(sandbox.kissmetrics.query.seen(f"/reports/{REPORTS[0].id}/run", "POST"))
    assert f"{windows} of {windows} window(s) failed" in errors[0]
    # the first timeout stops the report's later windows: only the two in flight ran
    assert len(sandbox.kissmetrics.query.seen(f"/reports/{stuck.id}/run", "POST")) <= 2 < windows
    assert "Traceback" not in result.stderr
    assert_exact(cli, sandbox, reports=("Signups by Channel", "Revenue per Person"))
    assert cli.sql(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'report_active_people'"
    ) == [(0,)]
    # a run after the fix loads it all: tests/test_faults.py job_never_finishes-kissmetrics


def test_wrong_token_exits_3_and_prints_no_secret(cli: Cli, sandbox: Sandbox) -> None:
    wrong = "wrong-token-5f2d8e1c9a"
    for command in (
        ["run", "kissmetrics", "--summary-json", str(cli.tmp / "summary.json")],
        ["check", "kissmetrics"],
    ):
        result = cli(*command, extra_env={"SOURCES__KISSMETRICS__API_TOKEN": wrong})
        assert result.code == 3, result.output
        assert "401" in result.stderr
        for secret in (wrong, sandbox.kissmetrics.token):
            assert secret not in result.output
    assert wrong not in (cli.tmp / "summary.json").read_text()


def test_malformed_body_fails_with_one_line_and_a_rerun_heals(cli: Cli, sandbox: Sandbox) -> None:
    # an HTML page; a body cut short takes the same path (parse_json) and is a test_faults cell
    sandbox.kissmetrics.api.faults.html_bodies = 1  # the reports list

    failed = cli("run", "kissmetrics")

    assert failed.code == 1
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "expected JSON" in errors[0] and "GET /core/reports" in errors[0]
    assert "Traceback" not in failed.stderr
    healed = cli("run", "kissmetrics")
    assert healed.code == 0, healed.output
    assert_exact(cli, sandbox)


def test_backfill_loads_its_window_without_moving_the_cursor_back(
    cli: Cli, sandbox: Sandbox
) -> None:
    assert cli("run", "kissmetrics", extra_env=DAILY).code == 0
    sandbox.kissmetrics.query.reset_log()
    start = pendulum.instance(sandbox.data_start).add(days=2)
    end = start.add(days=3)

    result = cli(
        "run",
        "kissmetrics",
        "--start",
        start.to_date_string(),
        "--end",
        end.to_date_string(),
        "--summary-json",
        str(cli.tmp / "summary.json"),
        extra_env=DAILY,
    )

    assert result.code == 0, result.output
    stats = summary(cli)
    assert stats["cursors_after"] == stats["cursors_before"]
    starts = {
        pendulum.parse(json.loads(r.body)["start_date"])
        for r in sandbox.kissmetrics.query.seen("/run")
    }
    assert starts == {start, start.add(days=1), start.add(days=2)}
    assert_exact(cli, sandbox)


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [("REPORT_IDS", "no-such-report", "the account has"), ("PRODUCT_IDS", "no-such", "404")],
)
def test_an_unknown_report_or_product_id_is_a_configuration_error(
    cli: Cli, key: str, value: str, why: str
) -> None:
    result = cli("run", "kissmetrics", extra_env={f"SOURCES__KISSMETRICS__{key}": f'["{value}"]'})
    assert result.code == 2, result.output
    assert value in result.stderr and key.lower() in result.stderr and why in result.stderr


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("API_TOKEN", "", "SOURCES__KISSMETRICS__API_TOKEN"),
        ("WINDOW_DAYS", "abc", "window_days"),
        ("WINDOW_DAYS", "0", "window_days"),
        ("TIME_ZONE", "Mars/Olympus", "time_zone"),
        ("API_URL", "http://api.kissmetrics.com", "must use https"),
        ("START_DATE", "31/12/2025", "start_date"),
    ],
)
def test_bad_settings_exit_2_naming_the_key(cli: Cli, key: str, value: str, named: str) -> None:
    result = cli("run", "kissmetrics", extra_env={f"SOURCES__KISSMETRICS__{key}": value})
    assert result.code == 2, result.output
    assert named in result.stderr
    assert "Traceback" not in result.stderr


def test_results_in_a_shape_nobody_expects_fail_their_report_and_hold_its_cursor(
    cli: Cli, sandbox: Sandbox
) -> None:
    km = sandbox.kissmetrics
    odd = next(r for r in REPORTS if r.name == "Active People")
    held = f"report_results.{odd.id}"
    start, end = pendulum.instance(sandbox.data_start), pendulum.today("UTC").subtract(days=3)
    backfill = ["--start", start.to_date_string(), "--end", end.to_date_string()]
    assert cli("run", "kissmetrics", *backfill, extra_env=DAILY).code == 0  # cursors: end
    before = sorted(cli.sql("SELECT * FROM kissmetrics.report_active_people"), key=repr)
    km.unknown_shape = {odd.id}  # `data` an object: {"rows": [...], "count": n}

    failed = cli(
        "run", "kissmetrics", "--summary-json", str(cli.tmp / "summary.json"), extra_env=DAILY
    )

    assert failed.code == 1, failed.output
    errors = error_lines(failed)
    assert len(errors) == 1, failed.stderr
    assert errors[0].startswith("error: kissmetrics: report_active_people: GET /v2/queries/")
    assert "/results: " in errors[0] and "`data` is a list of rows" in errors[0]
    assert "keys [meta, data," in errors[0] and '"data":{"rows":[[' in errors[0]
    assert "Traceback" not in failed.stderr
    assert sorted(cli.sql("SELECT * FROM kissmetrics.report_active_people"), key=repr) == before
    stats = summary(cli)
    assert stats["cursors_after"][held] == stats["cursors_before"][held] == end.isoformat()
    moved = {key for key in stats["cursors_after"] if key != held}
    assert all(stats["cursors_after"][key] > end.isoformat() for key in moved)
    assert_exact(cli, sandbox, reports=("Signups by Channel", "Revenue per Person"))

    km.unknown_shape = set()
    healed = cli("run", "kissmetrics", extra_env=DAILY)

    assert healed.code == 0, healed.output
    assert_exact(cli, sandbox)


def test_vendor_columns_named_like_the_source_own_columns_are_kept_apart(
    cli: Cli, sandbox: Sandbox
) -> None:
    report = next(r for r in REPORTS if r.name == "Active People")
    settings = {
        "SOURCES__KISSMETRICS__REPORT_IDS": json.dumps([report.id]),
        "SOURCES__KISSMETRICS__REPORT_COLUMNS": json.dumps(
            {report.id: ["identity", "_window_start", "_row_number"]}
        ),
    }

    result = cli("run", "kissmetrics", extra_env=settings)

    assert result.code == 0, result.output
    rows = cli.sql(
        "SELECT identity, _window_start__vendor, _row_number__vendor, _window_start, "
        "_row_number FROM kissmetrics.report_active_people"
    )
    assert sorted(r[:3] for r in rows) == sorted(truth(sandbox, "Active People"))
    numbers: dict[object, list[int]] = {}  # ours, not the vendor's: 0, 1, … per window
    for _, _, _, window_start, number in rows:
        numbers.setdefault(window_start, []).append(number)
    assert all(isinstance(start, type(sandbox.data_start)) for start in numbers)
    assert all(sorted(n) == list(range(len(n))) for n in numbers.values())


# -- the protocol in process: the client over real HTTP, no pipeline ------------------------


def fetch_all(sandbox: Sandbox, page_size: int = 1000) -> dict[str, list[tuple]]:
    """Every report's rows over one window covering all the sandbox's data, as the
    source's client reads them (list, run, poll, page, tables)."""
    km = sandbox.kissmetrics
    config = KissmetricsConfig(
        api_token=km.token,
        api_url=km.api.base_url,
        query_url=km.query.base_url,
        page_size=page_size,
        poll_interval=0.01,
    ).checked()
    window = Window(
        pendulum.instance(sandbox.data_start).subtract(days=1),
        pendulum.now("UTC").add(days=1),
        complete=False,
    )

    async def run() -> dict[str, list[tuple]]:
        found: dict[str, list[tuple]] = {}
        async with session(config) as http:
            client = Client(http, config)
            for report in await client.list_reports():
                rows: list[tuple] = []
                async for _, table in client.run_report(report, window, column_names(report, {})):
                    rows += [tuple(row.values()) for row in table.to_pylist()]
                found[report["name"]] = sorted(rows, key=repr)
        return found

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("fault", "value", "pagination", "message"),
    [
        ("ignore_offset", True, "present", "already sent at skip 0"),
        ("ignore_offset", True, "absent", "offset 5 repeats"),
        ("total_skew", 3, "present", "empty results page at offset 20 of 23"),
        ("total_skew", -3, "present", "announced 17 record(s) and sent 20"),
        ("total_skew", -5, "present", "says 15 but the host has rows at offset 15"),
    ],
)
def test_a_window_whose_pages_do_not_add_up_fails(
    sandbox: Sandbox, fault: str, value: object, pagination: str, message: str
) -> None:
    km = sandbox.kissmetrics
    km.data = {REPORTS[0].id: km.data[REPORTS[0].id]}  # one report of 20 rows, pages of 5
    km.data[REPORTS[0].id].n = 20
    km.pagination = pagination
    setattr(km, fault, value)

    with pytest.raises(MalformedResponse) as failure:
        fetch_all(sandbox, page_size=5)

    assert message in failure.value.line()
    assert "GET /v2/queries/" in failure.value.line()


@pytest.mark.slow
@pytest.mark.parametrize(
    "case", [pytest.param(case, id=case) for case in dialect_matrix(KissmetricsSim)]
)
def test_full_load_is_exact_when_dialects_meet(cli: Cli, sandbox: Sandbox, case: str) -> None:
    """Every form of every open detail together with every form of every other one."""
    sandbox.apply_dialect("kissmetrics", case)

    result = cli("run", "kissmetrics")

    assert result.code == 0, result.output
    assert_exact(cli, sandbox)


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
