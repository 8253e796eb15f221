"""Quantive end to end: the real CLI, over real HTTP, against the sandbox, into DuckDB."""

from __future__ import annotations

import json
from datetime import timedelta

import duckdb
import pytest

from sandbox import Sandbox
from sandbox.quantive import kpi_id
from tests import quantive_support
from tests.conftest import Cli
from tests.quantive_support import CURSOR, count, errors, run, snapshots, summary

sandbox = quantive_support.quantive_sandbox  # these tests run against a Quantive-only sandbox


def rows_in(cli: Cli, table: str) -> int:
    """`count`, or 0 when nothing was ever loaded into the table."""
    try:
        return count(cli, table)
    except (duckdb.CatalogException, duckdb.IOException):
        return 0


def test_a_server_that_ignores_skip_fails_kpis_with_one_line_and_loads_nothing(
    cli: Cli, sandbox: Sandbox
) -> None:
    sandbox.quantive.ignores_skip = True

    result = run(cli)

    assert result.code == 1, result.output
    lines = errors(result.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: quantive: kpis: GET /results/api/v2/kpis")
    assert "repeats" in lines[0]
    for table in ("kpis", "kpi_snapshots", "kpi_projections", "kpi_statistics"):
        assert rows_in(cli, table) == 0, table


def test_an_unknown_snapshot_body_fails_with_one_line_holds_the_cursor_and_a_rerun_heals(
    cli: Cli, sandbox: Sandbox
) -> None:
    qr = sandbox.quantive
    assert run(cli).code == 0
    before = count(cli, "kpi_snapshots")
    qr.snapshot_end += timedelta(days=1)  # a new day the failed run must not skip
    qr.unknown_shape = True

    failed = run(cli, "--summary-json", str(cli.tmp / "summary.json"))

    assert failed.code == 1, failed.output
    lines = errors(failed.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: quantive: kpi_snapshots: GET /results/api/v1/kpi-snapshots")
    assert "keys [result, version]" in lines[0]  # what was seen
    assert "Traceback" not in failed.stderr
    stats = summary(cli)
    assert stats["cursors_after"] == stats["cursors_before"] != {}
    assert count(cli, "kpi_snapshots") == before  # nothing of the failed batches

    qr.unknown_shape = False
    healed = run(cli)

    assert healed.code == 0, healed.output
    assert snapshots(cli) == qr.ground_truth()


def test_kpi_ids_loads_only_those(cli: Cli, sandbox: Sandbox) -> None:
    chosen = [kpi_id(1), kpi_id(4)]
    result = run(cli, SOURCES__QUANTIVE__KPI_IDS=json.dumps(chosen))
    assert result.code == 0, result.output
    assert {k for k, _ in snapshots(cli)} == set(chosen)
    assert cli.sql("SELECT id FROM quantive.kpis ORDER BY id") == [(k,) for k in chosen]
    assert not sandbox.quantive.api.seen("/v2/kpis")


@pytest.mark.parametrize(
    ("knob", "code", "words"),
    [
        ("payment_required", 1, "HTTP 402: payment required"),
        ("forbidden", 3, "HTTP 403: forbidden"),
    ],
)
def test_402_and_403_give_one_clear_line(
    cli: Cli, sandbox: Sandbox, knob: str, code: int, words: str
) -> None:
    if knob == "payment_required":
        sandbox.quantive.payment_required = True
    else:
        sandbox.quantive.forbidden_kpis = {kpi_id(2)}

    result = run(cli)

    assert result.code == code, result.output
    lines = errors(result.stderr)
    # resources run concurrently: whichever meets the 402/403 first names itself
    assert len(lines) == 1 and words in lines[0] and lines[0].startswith("error: quantive: ")
    assert "/results/api/v" in lines[0]  # the endpoint
    assert "Traceback" not in result.stderr
    if knob == "payment_required":
        assert "subscription" in lines[0]


def test_html_body_fails_with_one_line_and_a_rerun_heals(cli: Cli, sandbox: Sandbox) -> None:
    qr = sandbox.quantive
    qr.api.faults.path = "/kpi-snapshots"
    qr.api.faults.html_bodies = 1

    failed = run(cli, "--summary-json", str(cli.tmp / "summary.json"))

    assert failed.code == 1
    lines = errors(failed.stderr)
    assert len(lines) == 1, lines
    assert "kpi_snapshots" in lines[0] and "expected JSON" in lines[0]
    assert "GET /results/api/v1/kpi-snapshots" in lines[0]
    assert "Traceback" not in failed.stderr
    stats = json.loads((cli.tmp / "summary.json").read_text())["sources"][0]
    # the cursor held: no further than where the first run starts
    assert stats["cursors_after"] in ({}, {CURSOR: qr.snapshot_start.isoformat()})
    assert count(cli, "kpis") == qr.n_kpis  # the rest loaded

    healed = run(cli)

    assert healed.code == 0, healed.output
    assert snapshots(cli) == qr.ground_truth()


def test_wrong_token_exits_3_and_prints_no_secret(cli: Cli, sandbox: Sandbox) -> None:
    wrong = "wrong-quantive-token-9c1d7e"
    for command in (
        ["run", "quantive", "--summary-json", str(cli.tmp / "summary.json")],
        ["check", "quantive"],
    ):
        result = cli(*command, extra_env={"SOURCES__QUANTIVE__ACCESS_TOKEN": wrong})
        assert result.code == 3, result.output
        assert "401" in result.stderr and "unauthorized" in result.stderr
        for secret in (wrong, sandbox.quantive.token, sandbox.quantive.account_id):
            assert secret not in result.output
    assert wrong not in (cli.tmp / "summary.json").read_text()
    ok = cli("check", "quantive")
    assert ok.code == 0 and f"{sandbox.quantive.n_kpis} KPI(s)" in ok.stdout


def test_backfill_loads_its_window_without_moving_the_cursor(cli: Cli, sandbox: Sandbox) -> None:
    qr = sandbox.quantive
    assert run(cli).code == 0
    cli.sql("SELECT 1")  # the database exists
    qr.revise(kpi_id(0), qr.snapshot_start + timedelta(days=3), 7.5)
    qr.api.reset_log()
    start, end = qr.snapshot_start + timedelta(days=2), qr.snapshot_start + timedelta(days=5)

    result = run(
        cli,
        "--start",
        start.isoformat(),
        "--end",
        end.isoformat(),
        "--summary-json",
        str(cli.tmp / "summary.json"),
    )

    assert result.code == 0, result.output
    stats = json.loads((cli.tmp / "summary.json").read_text())["sources"][0]
    assert stats["cursors_after"] == stats["cursors_before"]
    assert stats["tables"]["kpi_snapshots"] == qr.n_kpis * 3  # --end is exclusive
    requested = {(r.query["from"][0], r.query["to"][0]) for r in qr.api.seen("/kpi-snapshots")}
    # `to` one day past the window (a server's `to` may be exclusive); the extra day is
    # trimmed, so exactly the window loads
    assert requested == {(start.isoformat(), end.isoformat())}
    assert snapshots(cli) == qr.ground_truth()


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"ACCESS_TOKEN": ""}, "SOURCES__QUANTIVE__ACCESS_TOKEN"),
        ({"TIME_ZONE": "Europe/Sofia"}, "time_zone"),
        ({"GROUP_BY": "hour"}, "group_by"),
        ({"STATISTICS_PERIODS": '["fortnight"]'}, "statistics_periods"),
        ({"KPI_IDS": '["5e8c27e3dcddffffffffffff"]'}, "kpi_ids"),
        ({"BASE_URL": "http://app.quantive.com/results/api"}, "must use https"),
        # the doc does not say how `ids` and the filters combine: one at a time
        ({"KPI_IDS": f'["{kpi_id(1)}"]', "MYKPIS": "true"}, "kpi_ids and mykpis are set together"),
        ({"V2_SNAPSHOTS": "true", "UNGROUPED": "true"}, "cannot honour ungrouped"),
    ],
)
def test_bad_settings_exit_2_naming_the_key(cli: Cli, settings: dict[str, str], named: str) -> None:
    extra = {f"SOURCES__QUANTIVE__{key}": value for key, value in settings.items()}
    result = cli("run", "quantive", extra_env=extra)
    assert result.code == 2, result.output
    assert named in result.stderr
    assert "Traceback" not in result.stderr
