"""Quantive end to end: which KPIs a run reads, and how (issue 14's reads).

The KPI filters (`group_ids`, `ungrouped`, `mykpis`) and `v2_snapshots`, which read
every selected KPI in one request per window; and the KPI metadata that follows the
vendor's deletions (`kpis` replaced whole, each KPI's projections replaced). The real
CLI, over real HTTP, against the sandbox, into DuckDB; helpers from `quantive_support`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox import Sandbox
from sandbox.quantive import kpi_id
from sandbox.quantive_reads import GROUP_IDS
from tests import quantive_support
from tests.conftest import Cli
from tests.quantive_support import (
    V2,
    errors,
    loaded_projections,
    monday,
    projection_truth,
    run,
    snapshots,
    today,
)

sandbox = quantive_support.quantive_sandbox  # these tests run against a Quantive-only sandbox


def linked(cli: Cli) -> set[str]:
    """The KPIs that have a row in a link table (metrics: every odd KPI)."""
    return {k for (k,) in cli.sql("SELECT DISTINCT kpi_id FROM quantive.kpis__metrics")}


def weekly(cli: Cli) -> dict[tuple[str, str], float]:
    rows = cli.sql("SELECT kpi_id, snapshot_date, value FROM quantive.kpi_snapshots")
    assert len(rows) == len({(k, d) for k, d, _ in rows}), "duplicate (kpi_id, week) rows"
    return {(k, d.isoformat()): v for k, d, v in rows}


@pytest.mark.parametrize(
    ("setting", "value", "where"),
    [
        ("GROUP_IDS", f'["{GROUP_IDS[1]}"]', {"group_ids": (GROUP_IDS[1],)}),
        ("UNGROUPED", "true", {"ungrouped": True}),
        ("MYKPIS", "true", {"mykpis": True}),
    ],
)
def test_a_kpi_filter_goes_on_every_snapshot_request_and_only_its_kpis_load(
    cli: Cli, sandbox: Sandbox, setting: str, value: str, where: dict
) -> None:
    qr = sandbox.quantive
    chosen = {kpi_id(i) for i in qr.kpis_where(**where)}
    assert 0 < len(chosen) < qr.n_kpis

    result = run(cli, **{f"SOURCES__QUANTIVE__{setting}": value})

    assert result.code == 0, result.output
    param = {"GROUP_IDS": ("groupIds", GROUP_IDS[1])}.get(setting, (setting.lower(), "true"))
    requests = qr.api.seen("/kpi-snapshots")  # one per window: the server selects the KPIs
    assert requests and all(r.query.get(param[0]) == [param[1]] for r in requests)
    assert not any("ids" in r.query for r in requests)
    assert {k for (k,) in cli.sql("SELECT id FROM quantive.kpis")} == chosen
    assert snapshots(cli) == {key: v for key, v in qr.ground_truth().items() if key[0] in chosen}
    stats = cli.sql("SELECT DISTINCT kpi_id FROM quantive.kpi_statistics")
    assert {k for (k,) in stats} == chosen


def test_v2_reads_every_kpi_per_window_and_a_kpi_that_fails_alone_keeps_its_cursor(
    cli: Cli, sandbox: Sandbox
) -> None:
    qr = sandbox.quantive
    env = {**V2, "SOURCES__QUANTIVE__GROUP_BY": "week"}
    qr.repeated_group = True  # KPI #0's first week: a record, one for its Tuesday, one at 10:00
    qr.unlisted = 1  # the last KPI: created after the KPI list was read
    first_week, late = monday(qr.snapshot_start).isoformat(), kpi_id(qr.n_kpis - 1)

    failed = run(cli, **env)

    assert failed.code == 1, failed.output
    lines = errors(failed.stderr)
    assert len(lines) == 2, lines
    assert all(
        line.startswith("error: quantive: kpi_snapshots: GET /results/api/v2/kpis/snapshots")
        for line in lines
    )
    assert any(f"repeats ('{kpi_id(0)}', '{first_week}')" in line for line in lines)
    assert any(f'KPIs the KPI list has; got a list of 1: ["{late}"]' in line for line in lines)
    assert not qr.api.seen("/kpi-snapshots")  # no ids: every KPI in each request
    truth = qr.group_truth("week")
    assert weekly(cli) == {
        key: v for key, v in truth.items() if key != (kpi_id(0), first_week) and key[0] != late
    }
    qr.repeated_group, qr.unlisted = False, 0
    qr.snapshot_end += timedelta(days=1)
    qr.api.reset_log()

    healed = run(cli, **env)

    assert healed.code == 0, healed.output
    assert weekly(cli) == qr.group_truth("week")
    # every KPI from the latest start; the two behind it by id, only for the weeks before
    latest = monday(today(qr) - timedelta(days=2)).isoformat()
    assert {r.query["from"][0] for r in qr.api.seen("/kpis/snapshots")} == {latest}
    by_id = qr.api.seen("/kpi-snapshots")
    assert {r.query["ids"][0] for r in by_id} == {f"{kpi_id(0)},{late}"}
    assert min(r.query["from"][0] for r in by_id) == first_week
    assert max(r.query["to"][0] for r in by_id) == latest  # `to` asked a day late


def test_kpi_metadata_follows_deletions_but_a_kpi_whose_projections_fail_keeps_them(
    cli: Cli, sandbox: Sandbox
) -> None:
    qr = sandbox.quantive
    qr.projections_in_kpi = "absent"  # read per KPI, page by page
    kpi, emptied = kpi_id(2), kpi_id(3)
    qr.projection_counts = {kpi: 12, emptied: 3}  # three pages of 5; one page
    assert run(cli).code == 0
    n, gone = qr.n_kpis, kpi_id(qr.n_kpis - 1)
    assert loaded_projections(cli) == projection_truth(qr, range(n))
    assert gone in linked(cli)
    qr.failing_projection_pages = {kpi}  # its first page answers, the next ones 500
    qr.projection_counts[emptied] = 0  # the vendor deleted its projections
    qr.n_kpis -= 1  # and the last KPI

    failed = run(cli)

    assert failed.code == 1, failed.output
    lines = errors(failed.stderr)
    assert len(lines) == 1 and lines[0].startswith("error: quantive: kpi_projections: "), lines
    assert f"/v1/kpis/{kpi}/projections" in lines[0]
    # the failed KPI's not replaced by its first page, the deleted ones gone, and the
    # deleted KPI's kept (as its snapshots are)
    assert loaded_projections(cli) == projection_truth(qr, range(n))
    assert len([k for k, *_ in loaded_projections(cli) if k == kpi]) == 12
    assert not any(k == emptied for k, *_ in loaded_projections(cli))
    # `kpis` and its links are replaced whole: the deleted KPI is gone from both
    assert {k for (k,) in cli.sql("SELECT id FROM quantive.kpis")} == set(qr.kpi_ids)
    assert linked(cli) == {kpi_id(i) for i in range(qr.n_kpis) if qr.links(i)["metrics"]}
