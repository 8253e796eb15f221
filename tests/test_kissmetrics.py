"""Kissmetrics end to end: the real CLI, over real HTTP, against the sandbox, into DuckDB."""

from __future__ import annotations

import json
from datetime import timedelta

import pendulum
import pytest

from sandbox import Sandbox
from sandbox.kissmetrics import REPORTS
from tests.conftest import Cli
from tests.kissmetrics_support import DAILY, assert_exact, error_lines, runs_loaded, summary, truth


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
