"""Quantive end to end: the real CLI, over real HTTP, against the sandbox, into DuckDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from sandbox import Sandbox
from sandbox.quantive import GROUP_LABELS, kpi_id
from tests.conftest import Cli

# small pages and batches, so every list and range is fetched in several requests
SMALL = {
    "SOURCES__QUANTIVE__PAGE_SIZE": "5",
    "SOURCES__QUANTIVE__SNAPSHOT_BATCH_SIZE": "4",
    "SOURCES__QUANTIVE__SNAPSHOT_WINDOW_DAYS": "7",
    "SOURCES__QUANTIVE__LOOKBACK_DAYS": "2",
    "SOURCES__QUANTIVE__INSIGHT_IDS": '["insight-0", "insight-2"]',
}
CURSOR = "kpi_snapshots.snapshot_date"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(rows=600, vendors=("quantive",)) as sb:
        yield sb


def run(cli: Cli, *args: str, **env: str):
    return cli("run", "quantive", *args, extra_env={**SMALL, **env})


def snapshots(cli: Cli) -> dict[tuple[str, str], float]:
    rows = cli.sql('SELECT kpi_id, "group", value FROM quantive.kpi_snapshots')
    loaded = {(k, g): v for k, g, v in rows}
    assert len(loaded) == len(rows), "duplicate (kpi_id, group) rows"
    return loaded


def count(cli: Cli, table: str) -> int:
    return cli.sql(f"SELECT count(*) FROM quantive.{table}")[0][0]


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_full_load_has_exact_counts_for_every_resource_across_pages(
    cli: Cli, sandbox: Sandbox
) -> None:
    qr = sandbox.quantive
    result = run(cli, "--summary-json", str(cli.tmp / "summary.json"))

    assert result.code == 0, result.output
    n = qr.n_kpis
    assert n > 15  # several pages of 5 and batches of 4
    assert snapshots(cli) == qr.ground_truth()
    assert count(cli, "kpis") == n
    assert count(cli, "kpi_projections") == sum(len(qr.projections(i)) for i in range(n))
    assert count(cli, "kpi_statistics") == n * 5
    assert count(cli, "kpis__goals") == sum(len(qr.links(i)["goals"]) for i in range(n))
    assert count(cli, "kpis__linked_kpis") == sum(len(qr.links(i)["kpis"]) for i in range(n))
    assert count(cli, "insight_usages") == 2
    usages = len(qr.insights[0].kpis) + len(qr.insights[2].kpis)
    assert count(cli, "insight_usages__kpis") == usages
    # an analyst joins a KPI to its goals on the KPI id
    joined = cli.sql(
        "SELECT count(*) FROM quantive.kpis k JOIN quantive.kpis__goals g ON g.kpi_id = k.id"
    )
    assert joined == [(count(cli, "kpis__goals"),)]
    # the wire: pages of 5, batches of at most 4 ids, both headers on every request
    pages = qr.api.seen("/v2/kpis")
    assert sorted(int(r.query["skip"][0]) for r in pages) == list(range(0, n, 5))
    batches = qr.api.seen("/kpi-snapshots")
    assert batches and all(len(r.query["ids"][0].split(",")) <= 4 for r in batches)
    assert {r.query["timeZone"][0] for r in batches} == {"UTC"}
    assert {r.query["groupBy"][0] for r in batches} == {"day"}
    for request in qr.api.requests:
        assert request.headers["authorization"] == f"Bearer {qr.token}"
        assert request.headers["gtmhub-accountid"] == qr.account_id
    stats = json.loads((cli.tmp / "summary.json").read_text())["sources"][0]
    assert stats["cursors_after"] == {CURSOR: qr.snapshot_end.isoformat()}


def test_rerun_asks_from_no_earlier_than_cursor_minus_lookback_and_duplicates_nothing(
    cli: Cli, sandbox: Sandbox
) -> None:
    qr = sandbox.quantive
    assert run(cli).code == 0
    qr.api.reset_log()

    second = run(cli, "--summary-json", str(cli.tmp / "summary.json"))

    assert second.code == 0, second.output
    froms = {date.fromisoformat(r.query["from"][0]) for r in qr.api.seen("/kpi-snapshots")}
    assert froms == {qr.snapshot_end - timedelta(days=2)}  # cursor minus lookback_days
    assert snapshots(cli) == qr.ground_truth()
    stats = json.loads((cli.tmp / "summary.json").read_text())["sources"][0]
    assert stats["tables"]["kpi_snapshots"] == qr.n_kpis * 3  # the three re-fetched days


def test_new_and_revised_snapshots_arrive_on_the_next_run(cli: Cli, sandbox: Sandbox) -> None:
    qr = sandbox.quantive
    assert run(cli).code == 0
    before = count(cli, "kpi_snapshots")
    yesterday = qr.snapshot_end
    qr.revise(kpi_id(3), yesterday, 4242.5)  # late correction inside the lookback
    qr.snapshot_end = yesterday + timedelta(days=1)  # today's snapshots arrive

    assert run(cli).code == 0

    assert count(cli, "kpi_snapshots") == before + qr.n_kpis
    assert snapshots(cli) == qr.ground_truth()
    assert snapshots(cli)[(kpi_id(3), yesterday.isoformat())] == 4242.5


def test_weekly_groups_are_whole_weeks_and_merge_on_rerun(cli: Cli, sandbox: Sandbox) -> None:
    qr = sandbox.quantive
    weekly = {"SOURCES__QUANTIVE__GROUP_BY": "week"}
    assert run(cli, **weekly).code == 0
    assert run(cli, **weekly).code == 0

    label = GROUP_LABELS["week"]
    weeks = {label(day) for day in qr.days()}
    loaded = snapshots(cli)
    assert len(loaded) == qr.n_kpis * len(weeks)
    for request in qr.api.seen("/kpi-snapshots"):
        assert date.fromisoformat(request.query["from"][0]).weekday() == 0  # a Monday


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
    assert requested == {(start.isoformat(), (end - timedelta(days=1)).isoformat())}
    assert snapshots(cli) == qr.ground_truth()


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("ACCESS_TOKEN", "", "SOURCES__QUANTIVE__ACCESS_TOKEN"),
        ("TIME_ZONE", "Europe/Sofia", "time_zone"),
        ("GROUP_BY", "hour", "group_by"),
        ("STATISTICS_PERIODS", '["fortnight"]', "statistics_periods"),
        ("KPI_IDS", '["5e8c27e3dcddffffffffffff"]', "kpi_ids"),
        ("BASE_URL", "http://app.quantive.com/results/api", "must use https"),
    ],
)
def test_bad_settings_exit_2_naming_the_key(cli: Cli, key: str, value: str, named: str) -> None:
    result = cli("run", "quantive", extra_env={f"SOURCES__QUANTIVE__{key}": value})
    assert result.code == 2, result.output
    assert named in result.stderr
    assert "Traceback" not in result.stderr
