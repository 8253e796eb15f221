"""Crash safety: SIGKILL the real CLI at seeded random moments, rerun, and the destination
equals the sandbox's ground truth — nothing lost, nothing doubled, cursors as a clean run's.

The phase a kill landed in is read from dlt's pipeline directory at the moment of the
kill (a package being normalised, loaded, or none yet: extraction) and reported. The
normal run kills once per source; `make test-full` runs the whole sweep (24 kills)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from sandbox import Sandbox
from sandbox.server import Reply, Request
from tests.conftest import Cli, serving
from tests.truth import assert_truth

ROWS = 200
SEED = int(os.environ.get("CRASH_SEED", "20261122"))
SOURCES = ("datawiz", "holistics", "quantive", "kissmetrics")


def phase(cli: Cli, source: str) -> str:
    """Where the run stands: a package waiting to load, to normalise, or extraction."""
    root = cli.tmp / "dlt" / "pipelines" / f"{source}__duckdb"
    if any((root / "load" / "normalized").glob("*")):
        return "load"
    if any((root / "normalize" / "extracted").glob("*")):
        return "normalize"
    return "extract"


def kill_in(cli: Cli, source: str, wanted: str, linger: float = 0.0, timeout: float = 60) -> str:
    """Start `run SOURCE`; once it reaches phase `wanted`, wait `linger` s and SIGKILL it.

    Returns the phase it was killed in, or 'finished' when it ended first."""
    process = subprocess.Popen(
        [sys.executable, "-m", "pipelines", "run", source],
        cwd=cli.tmp,
        env=cli.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + timeout
    reached: float | None = None
    while process.poll() is None and time.monotonic() < deadline:
        now = time.monotonic()
        if reached is None and phase(cli, source) == wanted:
            reached = now
        if reached is not None and now - reached >= linger:
            where = phase(cli, source)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            return where
        time.sleep(0.005)
    if process.poll() is None:
        process.kill()
        process.wait(timeout=30)
    return "finished"


def cursors(cli: Cli, source: str, summary: Path) -> dict:
    result = cli("run", source, "--summary-json", str(summary))
    assert result.code == 0, result.output
    return json.loads(summary.read_text())["sources"][0]["cursors_after"]


def sweep(source: str, kills: int, tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-{source}")
    seen: Counter[str] = Counter()
    with serving(Sandbox(rows=ROWS, vendors=(source,))) as sb:
        if source == "holistics":  # widen extraction: export jobs take 0.3 s; many runs
            sb.holistics.job_latency = 0.3  # would exhaust the per-minute export quota
            sb.holistics.quota_window = 0.0
        else:  # widen every phase a little: each answer takes 10 ms
            for server in sb.servers:
                server.faults.slow_seconds = 0.01
        reference = Cli(tmp_path / "reference", sb.env())
        reference.tmp.mkdir()
        expected = cursors(reference, source, reference.tmp / "summary.json")
        cli = Cli(tmp_path / "crashed", sb.env())
        cli.tmp.mkdir()
        for trial in range(kills):
            # a third each: mid-extraction (between pages, mid-download), while a package
            # is being normalised, while one is being loaded; a random moment within each
            target = ("extract", "normalize", "load")[(trial + SOURCES.index(source)) % 3]
            delay = rng.uniform(0.3, 2.0) if target == "extract" else rng.uniform(0.0, 0.3)
            where = kill_in(cli, source, target, linger=delay)
            seen[where] += 1
            label = (
                f"seed {SEED}, {source}, trial {trial}: "
                f"aimed at {target} +{delay:.2f} s, killed in {where}"
            )
            print(label)
            after = cursors(cli, source, cli.tmp / "summary.json")
            try:
                assert_truth(cli, sb, source)
                assert after == expected, "cursors differ from a clean run's"
            except AssertionError as exc:
                raise AssertionError(f"{label}: {exc}") from exc
    print(f"{source}: kills by phase {dict(seen)}")


@pytest.mark.parametrize("source", SOURCES)
def test_a_killed_run_is_healed_by_the_next(source: str, tmp_path: Path) -> None:
    sweep(source, 1, tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES)
def test_six_kills_per_source_each_healed_by_the_next(source: str, tmp_path: Path) -> None:
    sweep(source, 6, tmp_path)


def test_a_package_left_pending_is_noticed_and_loaded_before_new_data(tmp_path: Path) -> None:
    """A run killed while loading leaves its package pending; dlt alone would load only
    that package on the next run, ignoring new data. The next run says so, loads it, and
    then loads the vendor's new data too."""
    env = {"SOURCES__KISSMETRICS__WINDOW_DAYS": "1", "SOURCES__KISSMETRICS__LOOKBACK_DAYS": "1"}
    with serving(Sandbox(rows=ROWS, vendors=("kissmetrics",))) as sb:
        cli = Cli(tmp_path, sb.env())
        assert cli("run", "kissmetrics", extra_env=env).code == 0
        assert kill_in(cli, "kissmetrics", "load") == "load", "the run ended before its load"
        assert phase(cli, "kissmetrics") == "load"  # the package waits to be loaded

        data = sb.kissmetrics.report("Signups by Channel")
        index = len(data.all_rows()) - 1  # the newest row: inside the refetched window
        revised = data.row(index)
        revised[4] = 4321.5
        sb.kissmetrics.revise("Signups by Channel", index, revised)

        healed = cli("run", "kissmetrics", extra_env=env)

        assert healed.code == 0, healed.output
        assert "left unfinished load packages; loading them first" in healed.stderr
        assert phase(cli, "kissmetrics") == "extract"  # nothing pending any more
        assert_truth(cli, sb, "kissmetrics")
        assert cli.sql(
            "SELECT revenue FROM kissmetrics.report_signups_by_channel "
            f"WHERE identity = {revised[0]}"
        ) == [(4321.5,)]


def test_a_package_that_cannot_load_is_dropped_and_its_data_fetched_again(
    tmp_path: Path,
) -> None:
    """A frozen contract broken at normalisation leaves the package pending: dlt alone
    would retry it instead of any new data, forever. The next run says so, drops it, and
    loads what the vendor serves now, with no operator typing dlt commands."""
    frozen = {"SOURCES__HOLISTICS__SCHEMA_CONTRACT": "freeze"}
    with serving(Sandbox(rows=ROWS, vendors=("holistics",))) as sb:
        cli = Cli(tmp_path, sb.env())
        sb.holistics.quota_window = 0.0  # no per-minute export quota to wait out
        assert cli("run", "holistics", extra_env=frozen).code == 0
        api = sb.holistics.api
        routes = list(api._routes)
        for i, (method, pattern, handler) in enumerate(api._routes):
            if pattern.pattern.endswith("/users$"):  # the vendor adds a field to users

                def with_nickname(request: Request, _handler=handler, **kwargs: str) -> Reply:
                    reply = _handler(request, **kwargs)
                    body = json.loads(reply.body)
                    for user in body["users"]:
                        user["nickname"] = "new"
                    return Reply.json(body, reply.status, **reply.headers)

                api._routes[i] = (method, pattern, with_nickname)

        broken = cli("run", "holistics", extra_env=frozen)

        assert broken.code == 1
        assert "table users, column nickname" in broken.stderr
        assert phase(cli, "holistics") == "normalize"  # the package stays behind
        api._routes[:] = routes  # the vendor's payload is back to normal

        healed = cli("run", "holistics", extra_env=frozen)

        assert healed.code == 0, healed.output
        assert "they cannot be loaded" in healed.stderr and "dropping them" in healed.stderr
        assert phase(cli, "holistics") == "extract"
        assert_truth(cli, sb, "holistics")
