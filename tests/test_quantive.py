"""Quantive end to end: the real CLI, over real HTTP, against the sandbox, into DuckDB."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import duckdb
import pytest

from sandbox import Sandbox, dialect_cases, dialect_matrix
from sandbox.quantive import QuantiveSim, kpi_id, unit
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
V2 = {"SOURCES__QUANTIVE__V2_SNAPSHOTS": "true"}


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


def rows_in(cli: Cli, table: str) -> int:
    """`count`, or 0 when nothing was ever loaded into the table."""
    try:
        return count(cli, table)
    except (duckdb.CatalogException, duckdb.IOException):
        return 0


def summary(cli: Cli) -> dict:
    return json.loads((cli.tmp / "summary.json").read_text())["sources"][0]


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def today(qr: QuantiveSim) -> date:
    """The sandbox serves snapshots up to yesterday unless a test moves `snapshot_end`."""
    return qr.data_end.date()


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def projection_truth(qr: QuantiveSim, kpis: range) -> set[tuple[str, str, float]]:
    return {(kpi_id(i), p["id"], p["value"]) for i in kpis for p in qr.projections(i)}


def loaded_projections(cli: Cli) -> set[tuple[str, str, float]]:
    return set(cli.sql("SELECT kpi_id, id, value FROM quantive.kpi_projections"))


# the knobs that change how a snapshot answer is read: only their cases (and the
# default) rerun, incrementally and through GET /v2/kpis/snapshots, which speaks the
# same dialects; the other knobs change nothing a rerun would read differently
READING_KNOBS = {"snapshots_shape", "snapshot_day", "to_bound"}
# every dialect alone, then (slow: `make test-full`) the pairwise combinations
DIALECT_RUNS = [
    *dialect_cases(QuantiveSim),
    *(
        pytest.param(case, marks=pytest.mark.slow, id=f"pairwise-{n}")
        for n, case in enumerate(dialect_matrix(QuantiveSim))
    ),
]


@pytest.mark.parametrize("dialect", DIALECT_RUNS)
def test_full_load_and_rerun_are_exact_in_every_dialect(
    cli: Cli, sandbox: Sandbox, dialect: str
) -> None:
    qr = sandbox.quantive
    sandbox.apply_dialect("quantive", dialect)
    result = run(cli, "--summary-json", str(cli.tmp / "summary.json"))

    assert result.code == 0, result.output
    n = qr.n_kpis
    assert n > 15  # several pages of 5 and batches of 4
    assert snapshots(cli) == qr.ground_truth()
    assert count(cli, "kpis") == n
    assert loaded_projections(cli) == projection_truth(qr, range(n))
    assert count(cli, "kpi_projections") == sum(len(qr.projections(i)) for i in range(n))
    assert count(cli, "kpi_statistics") == n * 5
    assert count(cli, "kpis__goals") == sum(len(qr.links(i)["goals"]) for i in range(n))
    assert count(cli, "kpis__linked_kpis") == sum(len(qr.links(i)["kpis"]) for i in range(n))
    assert count(cli, "insight_usages") == 2
    used = sorted(kpi_id(i) for insight in (0, 2) for i in qr.insights[insight].kpis)
    assert sorted(k for (k,) in cli.sql("SELECT kpi_id FROM quantive.insight_usages__kpis")) == used
    # an analyst joins a KPI to its goals on the KPI id
    joined = cli.sql(
        "SELECT count(*) FROM quantive.kpis k JOIN quantive.kpis__goals g ON g.kpi_id = k.id"
    )
    assert joined == [(count(cli, "kpis__goals"),)]
    if qr.snapshots_shape == "items_grouped":  # the grouping item's unit, on each row
        units = cli.sql("SELECT kpi_id, unit FROM quantive.kpi_snapshots")
        assert all(u == unit(k) for k, u in units)
    if qr.snapshot_fields == "annotated":  # the vendor's own kpiId/timeZone, kept apart
        per_kpi = ["kpi_projections"] if qr.projections_in_kpi == "absent" else []
        for table in ("kpi_snapshots", "kpi_statistics", *per_kpi):
            mismatched = f"SELECT count(*) FROM quantive.{table} WHERE kpi_id__vendor <> kpi_id"
            assert cli.sql(mismatched) == [(0,)], table
    # projections come with the KPI body, every field of it; only without them per KPI
    asked = {r.path for r in qr.api.seen("/projections")}
    if qr.projections_in_kpi == "embedded":
        assert not asked
        stamped = "SELECT count(*) FROM quantive.kpi_projections WHERE date_created IS NOT NULL"
        assert cli.sql(stamped) == [(count(cli, "kpi_projections"),)]
    else:
        assert asked == {f"/results/api/v1/kpis/{k}/projections" for k in qr.kpi_ids}
    # the wire: pages of 5, batches of at most 4 ids, both headers on every request
    skips = {int(r.query["skip"][0]) for r in qr.api.seen("/v2/kpis")}
    assert set(range(0, n, 5)) <= skips <= {*range(0, n, 5), n}  # n: no total, an empty page
    batches = qr.api.seen("/kpi-snapshots")
    assert batches and all(len(r.query["ids"][0].split(",")) <= 4 for r in batches)
    assert {r.query["timeZone"][0] for r in batches} == {"UTC"}
    assert {r.query["groupBy"][0] for r in batches} == {"day"}
    for request in qr.api.requests:
        assert request.headers["authorization"] == f"Bearer {qr.token}"
        assert request.headers["gtmhub-accountid"] == qr.account_id
    # every KPI's cursor is today, the first day not final; the summary shows the oldest
    assert summary(cli)["cursors_after"] == {CURSOR: today(qr).isoformat()}
    knobs = {item.split("=")[0] for item in dialect.split(",")}
    if dialect != "default" and not knobs & READING_KNOBS:
        return
    qr.api.reset_log()

    rerun = run(cli, "--summary-json", str(cli.tmp / "summary.json"), **V2)

    assert rerun.code == 0, rerun.output
    assert snapshots(cli) == qr.ground_truth()
    assert count(cli, "kpis") == n
    # one request per window for every KPI, from their cursor (today) minus lookback_days
    assert not qr.api.seen("/kpi-snapshots")
    froms = {r.query["from"][0] for r in qr.api.seen("/kpis/snapshots")}
    assert froms == {(today(qr) - timedelta(days=2)).isoformat()}
    assert summary(cli)["tables"]["kpi_snapshots"] == n * 2  # the re-fetched days with data


def test_new_days_revisions_and_new_kpis_with_their_history_arrive_on_the_next_run(
    cli: Cli, sandbox: Sandbox
) -> None:
    qr = sandbox.quantive
    assert run(cli).code == 0
    before, old = count(cli, "kpi_snapshots"), qr.n_kpis
    yesterday = qr.snapshot_end
    qr.revise(kpi_id(3), yesterday, 4242.5)  # late correction inside the lookback
    qr.snapshot_end = yesterday + timedelta(days=1)  # today's snapshots arrive
    qr.n_kpis += 1  # a KPI added since the first run, with history back to start_date
    qr.api.reset_log()

    assert run(cli).code == 0

    assert count(cli, "kpi_snapshots") == before + old + len(qr.days())
    assert snapshots(cli) == qr.ground_truth()
    assert snapshots(cli)[(kpi_id(3), yesterday.isoformat())] == 4242.5
    new = kpi_id(old)
    froms = {r.query["from"][0] for r in qr.api.seen("/kpi-snapshots") if new in r.query["ids"][0]}
    assert min(froms) == qr.snapshot_start.isoformat()  # its own cursor: from start_date


def test_a_same_day_rerun_without_lookback_picks_up_todays_revised_value(
    cli: Cli, sandbox: Sandbox
) -> None:
    qr = sandbox.quantive
    qr.snapshot_end = today(qr)  # today's snapshots, still changing during the day
    no_lookback = {"SOURCES__QUANTIVE__LOOKBACK_DAYS": "0"}
    assert run(cli, **no_lookback).code == 0
    qr.revise(kpi_id(3), today(qr), 4242.5)
    qr.api.reset_log()

    assert run(cli, **no_lookback).code == 0

    assert {r.query["from"][0] for r in qr.api.seen("/kpi-snapshots")} == {today(qr).isoformat()}
    assert snapshots(cli) == qr.ground_truth()
    assert snapshots(cli)[(kpi_id(3), today(qr).isoformat())] == 4242.5


def test_two_records_for_one_group_fail_their_batch_and_only_its_kpis_start_over(
    cli: Cli, sandbox: Sandbox
) -> None:
    qr = sandbox.quantive
    weekly = {"SOURCES__QUANTIVE__GROUP_BY": "week"}
    qr.repeated_group = True  # KPI #0's first week: a record, one for its Tuesday, one at 10:00
    first_week = monday(qr.snapshot_start)

    failed = run(cli, "--summary-json", str(cli.tmp / "summary.json"), **weekly)

    assert failed.code == 1, failed.output
    lines = errors(failed.stderr)
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: quantive: kpi_snapshots: GET /results/api/v1/kpi-snapshots")
    assert f"repeats ('{kpi_id(0)}', '{first_week}')" in lines[0]
    assert summary(cli)["cursors_after"] == {CURSOR: first_week.isoformat()}  # the oldest
    rows = cli.sql("SELECT kpi_id, snapshot_date FROM quantive.kpi_snapshots")
    assert len(rows) == len(set(rows))  # nothing of the failed batch, no doubles
    assert (kpi_id(0), first_week) not in rows
    batches = [r.query["ids"][0].split(",") for r in qr.api.seen("/kpi-snapshots")]
    held = next(set(ids) for ids in batches if kpi_id(0) in ids)  # KPI #0's batch
    qr.repeated_group = False
    qr.api.reset_log()

    healed = run(cli, **weekly)

    assert healed.code == 0, healed.output
    froms: dict[bool, set[str]] = {True: set(), False: set()}
    for r in qr.api.seen("/kpi-snapshots"):
        ids = set(r.query["ids"][0].split(","))
        assert ids <= held or not ids & held  # KPIs that share a cursor go together
        froms[ids <= held].add(r.query["from"][0])
    assert min(froms[True]) == first_week.isoformat()  # the failed batch's KPIs: from start
    assert froms[False] == {monday(today(qr) - timedelta(days=2)).isoformat()}  # the rest held on
    rows = cli.sql("SELECT kpi_id, snapshot_date, value FROM quantive.kpi_snapshots")
    assert {(k, d.isoformat()): v for k, d, v in rows} == qr.group_truth("week")
    assert len(rows) == len(qr.group_truth("week"))


@pytest.mark.parametrize(
    "dialect", ["default", "group_label=first_day", "group_label=unpadded", "snapshot_day=date"]
)
def test_weekly_groups_are_whole_weeks_in_every_label_form(
    cli: Cli, sandbox: Sandbox, dialect: str
) -> None:
    """(Weekly reruns merge: the two-records and v2 tests rerun weekly.)"""
    qr = sandbox.quantive
    sandbox.apply_dialect("quantive", dialect)
    start = {}
    if dialect == "group_label=unpadded":  # data in weeks 8-10, so some labels are short
        qr.snapshot_start, qr.snapshot_end = date(2026, 2, 16), date(2026, 3, 8)
        start = {"SOURCES__QUANTIVE__START_DATE": qr.snapshot_start.isoformat()}
    assert run(cli, SOURCES__QUANTIVE__GROUP_BY="week", **start).code == 0

    rows = cli.sql('SELECT kpi_id, snapshot_date, value, "group" FROM quantive.kpi_snapshots')
    assert {(k, d.isoformat()): v for k, d, v, _ in rows} == qr.group_truth("week")
    assert len(rows) == len(qr.group_truth("week"))  # one row per KPI and week, no doubles
    if dialect == "group_label=unpadded":  # the vendor's own label is kept
        assert all(g == f"{d.isocalendar()[0]}-W{d.isocalendar()[1]}" for _, d, _, g in rows)
        assert any(d.isocalendar()[1] < 10 for _, d, _, _ in rows)  # short labels were read
    elif dialect != "group_label=first_day":
        assert all(g == f"{d.isocalendar()[0]}-W{d.isocalendar()[1]:02d}" for _, d, _, g in rows)
    for request in qr.api.seen("/kpi-snapshots"):
        assert date.fromisoformat(request.query["from"][0]).weekday() == 0  # a Monday


def test_a_drifted_value_goes_to_a_variant_column_and_a_new_field_to_a_new_one(
    cli: Cli, sandbox: Sandbox
) -> None:
    qr = sandbox.quantive
    assert run(cli).code == 0
    qr.drift = True  # KPI #1's values turn into text like "1000.5 pts"; records gain unitLabel

    result = run(cli)

    assert result.code == 0, result.output
    rows = cli.sql(
        'SELECT kpi_id, "group", value, value__v_text, unit_label FROM quantive.kpi_snapshots'
    )
    truth = qr.ground_truth()
    assert {(k, g) for k, g, *_ in rows} == set(truth)  # every row landed, none twice
    assert len(rows) == len(truth)
    # the days re-fetched (today minus lookback_days) that have data
    refetched = {(qr.snapshot_end - timedelta(days=d)).isoformat() for d in range(2)}
    for k, g, value, text, label in rows:
        drifted = k == kpi_id(1) and g in refetched
        assert (value, text) == ((None, f"{truth[k, g]} pts") if drifted else (truth[k, g], None))
        assert label == ("pts" if g in refetched else None)
    # an undocumented expanded link stays as JSON; a vendor field named like a child
    # list keeps its data apart, and the child list is whole
    kpis = cli.sql("SELECT id, sessions__vendor, links__expanded FROM quantive.kpis")
    for k, sessions, expanded in kpis:
        i = qr.index_of(k)
        assert sessions == i % 5
        assert json.loads(expanded) == {"tasks": qr.links(i)["tasks"]}
    assert count(cli, "kpis__sessions") == sum(
        len(qr.links(i)["sessions"]) for i in range(qr.n_kpis)
    )


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
