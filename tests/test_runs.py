"""Operating the pipelines: one run at a time, run history, status, sql, and recovery from
load packages an earlier run left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import dlt
import pendulum
import pytest

from pipelines import history
from pipelines.lock import run_lock
from sandbox import Sandbox
from tests.conftest import Cli, shown_rows
from tests.truth import expected_counts


def lock_path(cli: Cli) -> Path:
    return cli.tmp / "dlt" / "pipelines" / "kissmetrics__duckdb.lock"


def test_every_run_lands_in_runs_and_status_reads_it(cli: Cli, sandbox: Sandbox) -> None:
    assert cli("run", "kissmetrics").code == 0
    wrong = "not-the-token-93c1f"
    assert cli("run", "kissmetrics", extra_env={"SOURCES__KISSMETRICS__API_TOKEN": wrong}).code == 3

    runs = cli.sql("SELECT status, rows, error FROM kissmetrics._runs ORDER BY started_at")
    assert [r[0] for r in runs] == ["ok", "failed"]
    loaded = sum(expected_counts(sandbox, "kissmetrics").values())
    assert runs[0][1] == loaded and runs[0][2] is None
    assert "HTTP 401" in runs[1][2] and wrong not in runs[1][2]

    status = cli("status")
    assert status.code == 0, status.output
    line = next(x for x in status.stdout.splitlines() if x.startswith("kissmetrics"))
    assert f" {loaded} " in f" {line} "
    assert "behind)" in status.stdout
    assert "last error: kissmetrics: GET /core/reports" in status.stdout


@pytest.mark.parametrize(
    ("cursor", "words"),
    [
        ("2026-03-07T07:00:00Z", "3 days behind"),
        ("2026-03-10T09:00:00+02:00", "5 hours behind"),
        ("2026-03-10", "12 hours behind"),  # a date cursor: its midnight (UTC)
        ("2026-01-20", "1 month behind"),
        ("2026-03-11T12:00:00Z", "1 day ahead"),  # a clock gone wrong says so
        ("report-17", "-"),
        (None, "-"),
    ],
)
def test_status_says_how_far_behind_a_cursor_is_in_words(cursor: object, words: str) -> None:
    assert history.staleness(cursor, pendulum.datetime(2026, 3, 10, 12)) == words


def test_sql_prints_a_table_and_a_bad_query_is_one_line(cli: Cli) -> None:
    assert cli("run", "kissmetrics").code == 0
    result = cli("sql", "SELECT name FROM kissmetrics.reports ORDER BY name")
    assert result.code == 0, result.output
    assert shown_rows(result.stdout) == [
        ["name"],
        ["varchar"],
        ["Active People"],
        ["Revenue per Person"],
        ["Signups by Channel"],
    ]
    # every row and every value whole: DuckDB's `show` abbreviates both unless told
    many = cli("sql", "SELECT range AS n, repeat('x', 300) AS long FROM range(100)")
    assert many.code == 0, many.output
    rows = shown_rows(many.stdout)[2:]
    assert len(rows) == 100 and rows[-1] == ["99", "x" * 300]
    bad = cli("sql", "SELECT * FROM kissmetrics.no_such_table")
    assert bad.code == 2 and bad.stderr.count("\n") == 1 and "no_such_table" in bad.stderr


def test_a_second_run_exits_2_naming_the_holder_or_waits(cli: Cli) -> None:
    path = lock_path(cli)
    with run_lock(path, wait=0, what="test"):
        blocked = cli("run", "kissmetrics")
    assert blocked.code == 2
    assert f"another run of kissmetrics into duckdb is in progress (pid {os.getpid()}" in (
        blocked.stderr
    )

    release = threading.Event()

    def hold() -> None:
        with run_lock(path, wait=0, what="test"):
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    threading.Timer(1.5, release.set).start()
    time.sleep(0.2)
    waited = cli("run", "kissmetrics", extra_env={"PIPELINES__LOCK_WAIT": "20"})
    holder.join()
    assert waited.code == 0, waited.output


def test_a_killed_run_leaves_no_stale_lock(cli: Cli, sandbox: Sandbox) -> None:
    sandbox.kissmetrics.job_latency = 60  # the run sits polling, lock held
    victim = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "run", "kissmetrics"],
        cwd=cli.tmp,
        env=cli.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    path = lock_path(cli)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (path.exists() and path.read_text()):
        time.sleep(0.1)
    assert path.read_text(), "the run never took the lock"
    victim.send_signal(signal.SIGKILL)
    victim.wait()

    sandbox.kissmetrics.job_latency = 0
    rerun = cli("run", "kissmetrics")
    assert rerun.code == 0, rerun.output


def test_a_pending_package_is_loaded_before_the_next_run(
    cli: Cli, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that died after extraction leaves a package; the next run loads it first and
    then its own data, instead of dlt's default of loading only the old package."""
    for key, value in cli.env.items():
        monkeypatch.setenv(key, value)
    from sources.kissmetrics import kissmetrics_source

    pipeline = dlt.pipeline(
        "kissmetrics__duckdb",
        destination=dlt.destinations.duckdb(str(cli.db)),
        dataset_name="kissmetrics",
        pipelines_dir=str(cli.tmp / "dlt" / "pipelines"),
    )
    pipeline.extract(kissmetrics_source().with_resources("reports"), loader_file_format="parquet")
    pipeline.normalize()
    assert pipeline.has_pending_data

    result = cli("run", "kissmetrics")

    assert result.code == 0, result.output
    assert "left unfinished load packages" in result.stderr
    assert cli.sql("SELECT count(*) FROM kissmetrics.report_signups_by_channel") == [(200,)]
