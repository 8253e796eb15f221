"""The benchmark harness at tiny sizes: every case runs and gives every figure it reports
(the merge case only in `make test-full`); the wide CSV widget and the in-flight counter
it relies on hold what they claim."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from sandbox import holistics_realistic as realistic
from sandbox.server import InFlight

ROOT = Path(__file__).resolve().parent.parent
ROWS = 2_000


def bench(tmp_path: Path, cases: str, sources: str) -> tuple[str, dict[str, Any]]:
    """`python -m bench` at ROWS rows: its stdout and its results."""
    out = tmp_path / "bench.json"
    args = ["--rows", str(ROWS), "--cases", cases, "--sources", sources, "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "bench", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout, json.loads(out.read_text())


@pytest.mark.timeout(180)
def test_bulk_noop_and_postgres_cases_produce_their_figures(tmp_path: Path) -> None:
    stdout, results = bench(tmp_path, "csv,json,noop,postgres", "holistics,kissmetrics")
    for title in ("Bulk loads", "PostgreSQL", "no-op"):
        assert title in stdout
    for source in ("holistics", "kissmetrics"):
        bulk = results["bulk"][source]
        pipeline = bulk["pipeline"]
        assert pipeline["code"] == 0 and pipeline["status"] == "ok"
        assert pipeline["rows"] == bulk["b_ingest"]["rows"]  # every row DuckDB read itself
        assert pipeline["rows_per_s"] > 0 and 0 < pipeline["rss_mb"] < 2_000
        assert bulk["a_fetch"]["seconds"] > 0 and bulk["a_fetch"]["bytes"] > 0
        assert bulk["pipeline_over_a_plus_b"] > 0
        assert bulk["noop"]["code"] == 0 and bulk["noop"]["rows"] < pipeline["rows"]
    assert results["bulk"]["holistics"]["pipeline"]["rows"] == ROWS
    postgres = results["postgres"]
    if os.environ.get("PG_TEST_DSN"):
        assert postgres["pipeline"]["rows"] == ROWS and postgres["empty_kept"], postgres
    else:
        assert postgres == {"skipped": "no server"}


@pytest.mark.timeout(180)
def test_latency_case_counts_requests_in_flight(tmp_path: Path) -> None:
    stdout, results = bench(tmp_path, "latency", "holistics")
    assert "Latency" in stdout
    latency = results["latency"]["holistics"]
    assert latency["pipeline"]["code"] == 0 and latency["pipeline"]["rows"] == ROWS
    assert latency["requests"] >= latency["pipeline"]["requests"] > 0
    assert latency["peak_in_flight"] >= latency["mean_in_flight"] >= 1
    assert latency["wall_over_ideal"] > 1 and latency["served_429"] == 0


@pytest.mark.slow  # ~8 s of CPU more: beyond this file's share of `make test`
@pytest.mark.timeout(180)
def test_merge_case_reruns_into_a_small_and_an_inflated_table(tmp_path: Path) -> None:
    stdout, results = bench(tmp_path, "merge", "holistics")
    assert "Incremental merge" in stdout
    merge = results["merge"]
    for size, rows in (("small", ROWS // 10), ("large", ROWS * 10)):
        assert merge[size]["code"] == 0 and merge[size]["rows"] > 0
        assert merge[size]["table_rows"] == merge[size]["rows_after"] == rows
    assert merge["ratio"] > 0


def test_the_wide_widget_filters_by_date_and_counts_its_notes() -> None:
    widget = realistic.widget(realistic.WIDGET_ID, 1_000)
    assert widget is not None and realistic.widget(realistic.WIDGET_ID, 0) is None
    first = date(2026, 1, 1)
    whole = b"".join(realistic.csv_chunks(widget, first, 10, None))
    assert whole.startswith(b"\xef\xbb\xbf") and whole.endswith(b"\r\n")
    rows = list(csv.reader(io.StringIO(whole.decode("utf-8-sig"), newline="")))
    header, rows = rows[0], rows[1:]
    assert tuple(header) == realistic.HEADER and len(rows) == 1_000
    assert {len(r) for r in rows} == {12}
    window = b"".join(realistic.csv_chunks(widget, first, 10, ("2026-01-03", "2026-01-04")))
    lines = window.decode("utf-8-sig").split("\r\n")[1:-1]
    expected = [r for r in rows if "2026-01-03" <= r[1] <= "2026-01-04"]
    assert [line.split(",", 1)[0] for line in lines] == [r[0] for r in expected]
    counts = realistic.note_counts(1_000)
    raw = whole.decode("utf-8-sig").split("\r\n")[1:-1]
    assert sum(line.endswith(',""') for line in raw) == counts[realistic.EMPTY]
    assert sum(line.endswith(",") for line in raw) == counts[realistic.NULL]


def test_in_flight_counts_peak_and_mean_concurrency() -> None:
    counter = InFlight()
    with counter.counting(), counter.counting():
        time.sleep(0.02)
    summary = counter.summary().split()
    assert summary[:3] == ["in_flight", "requests=2", "peak=2"]
    assert 1.5 < float(summary[3].removeprefix("mean=")) <= 2.0
    counter.reset()
    assert counter.summary().startswith("in_flight requests=0 peak=0 mean=0.00")
