"""Quantive in every dialect the simulator speaks: the full load and the rerun are
exact, KPIs, snapshots, projections, statistics and links alike."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox import Sandbox, dialect_cases, dialect_matrix
from sandbox.quantive import QuantiveSim, kpi_id, unit
from tests import quantive_support
from tests.conftest import Cli
from tests.quantive_support import (
    CURSOR,
    V2,
    count,
    loaded_projections,
    projection_truth,
    run,
    snapshots,
    summary,
    today,
)

sandbox = quantive_support.quantive_sandbox  # these tests run against a Quantive-only sandbox


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
