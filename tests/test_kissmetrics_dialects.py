"""Kissmetrics in every dialect the simulator speaks: the full load is exact, and the
date form the host takes is found once and remembered."""

from __future__ import annotations

import json

import pytest

from sandbox import Sandbox, dialect_cases, dialect_matrix
from sandbox.kissmetrics import REPORTS, KissmetricsSim
from tests.conftest import Cli
from tests.kissmetrics_support import assert_exact, assert_metadata_exact, runs_loaded, summary

UNIX_DATES = "run_dates=unix"


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
