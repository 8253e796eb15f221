"""Quantive's KPI snapshots over several runs: new days, revisions and KPIs, weekly
groups, repeated records and drifted values."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest

from sandbox import Sandbox
from sandbox.quantive import kpi_id
from tests import quantive_support
from tests.conftest import Cli
from tests.quantive_support import CURSOR, count, errors, monday, run, snapshots, summary, today

sandbox = quantive_support.quantive_sandbox  # these tests run against a Quantive-only sandbox


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
