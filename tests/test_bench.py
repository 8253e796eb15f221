"""A 10,000-row run of the benchmark harness: every figure is produced and sane."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(180)
def test_bench_harness_produces_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--rows",
            "10000",
            "--cases",
            "bulk,noop",
            "--sources",
            "holistics,kissmetrics",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| holistics |" in done.stdout and "Incremental no-op" in done.stdout
    results = json.loads(out.read_text())
    for source in ("holistics", "kissmetrics"):
        bulk = results["bulk"][source]
        pipeline = bulk["pipeline"]
        assert pipeline["code"] == 0 and pipeline["status"] == "ok"
        assert pipeline["rows"] >= 9_000 and pipeline["rows_per_s"] > 0
        assert 0 < pipeline["rss_mb"] < 2_000 and pipeline["requests"] > 0
        assert bulk["a_fetch"]["seconds"] > 0 and bulk["a_fetch"]["requests"] > 0
        assert bulk["b_ingest"]["rows"] >= 9_000
        assert bulk["c_dicts"]["rows"] >= 9_000 and bulk["c_dicts"]["rows_per_s"] > 0
        assert bulk["pipeline_over_a_plus_b"] > 0 and bulk["c_over_pipeline"] > 0
        assert bulk["noop"]["code"] == 0 and bulk["noop"]["rows"] < pipeline["rows"]
