"""`python -m bench [--rows N] [--cases csv,json,…] [--sources holistics,datawiz,…]`

Cases (default: all of them; `bulk` = csv,json):
  csv       the realistic Holistics CSV export (12 columns) into DuckDB, against (a) a
            bare download and (b) DuckDB's read_csv of the same bytes
  json      the JSON sources into DuckDB, against (a) a bare fetch and (b) DuckDB's
            read_json of the same pages
  memory    each bulk load again at N / 10 rows: peak RSS at N ÷ at N / 10
  noop      each bulk load rerun right after, with no new data
  latency   each bulk subject at min(N, 300,000) rows, every answer 150 ms late
  postgres  the CSV case into PostgreSQL (PG_TEST_DSN, which `make bench` provides)
  merge     a 1-day lookback rerun of the CSV widget into N / 10 rows and into 10 × N rows
  jobs      20 async jobs against 1 (Holistics exports, Kissmetrics report runs)
`--sources` picks the bulk subjects (holistics is the CSV case); memory, noop and latency
run on the subjects of csv and json (on all of them when neither is named).

Every measurement runs in child processes (bench/harness.py). Results go to
bench/results/<date>.json and markdown tables on stdout."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.bulk import bulk, memory_small
from bench.cases import CASES, Case
from bench.harness import ROOT, Sandbox, baseline, merged
from bench.jobs import jobs
from bench.latency import LATENCY_ROWS, latency
from bench.merge import merge
from bench.postgres import postgres
from bench.report import TARGETS, report

ALL_CASES = ("csv", "json", "memory", "noop", "latency", "postgres", "merge", "jobs")
ALIASES = {"bulk": ("csv", "json")}


def subjects(cases: set[str], sources: list[str]) -> list[str]:
    kinds = {kind for kind in ("csv", "json") if kind in cases} or {"csv", "json"}
    return [s for s in sources if CASES[s].kind in kinds]


def measure(cases: set[str], sources: list[str], rows: int, work: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    chosen = subjects(cases, sources)
    if cases & {"csv", "json", "memory", "noop"}:
        results["bulk"] = {}
        for source in chosen:
            case = CASES[source]
            with Sandbox(*case.sandbox(rows)) as sandbox:
                env = merged(sandbox.env, case.env())
                results["bulk"][source] = bulk(case, env, rows, work, noop="noop" in cases)
                if case.kind == "csv" and "postgres" in cases:  # the simulator is warm
                    results["postgres"] = postgres(env, rows, work)
    if "postgres" in cases and "postgres" not in results:
        results["postgres"] = postgres_alone(CASES["holistics"], rows, work)
    if "memory" in cases:
        results["memory"] = {s: memory(s, results["bulk"][s], rows // 10, work) for s in chosen}
    if "latency" in cases:
        results["latency"] = {s: latency(CASES[s], min(rows, LATENCY_ROWS), work) for s in chosen}
    if "merge" in cases:
        results["merge"] = merge(rows // 10, rows * 10, work)
    if "jobs" in cases:
        results["jobs"] = jobs(work)
    return results


def memory(source: str, large: dict[str, Any], rows: int, work: Path) -> dict[str, Any]:
    small = memory_small(CASES[source], rows, work)
    large_mb = large["pipeline"]["rss_mb"]
    return {
        "small_rows": small["rows"],
        "small_mb": small["rss_mb"],
        "large_mb": large_mb,
        "ratio": large_mb / small["rss_mb"],
    }


def postgres_alone(case: Case, rows: int, work: Path) -> dict[str, Any]:
    """The PostgreSQL case when no CSV bulk load warmed a sandbox for it."""
    with Sandbox(*case.sandbox(rows)) as sandbox:
        env = merged(sandbox.env, case.env())
        baseline("fetch", case.source, work / "postgres_raw", env)  # fills the export cache
        return postgres(env, rows, work)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of each bulk result")
    parser.add_argument("--cases", default=",".join(ALL_CASES), help="see above")
    parser.add_argument("--sources", default=",".join(CASES), help="the bulk subjects")
    parser.add_argument("--out", type=Path, help="results JSON (default bench/results/<date>.json)")
    args = parser.parse_args(argv)
    cases = {c for name in args.cases.split(",") if name for c in ALIASES.get(name, (name,))}
    sources = [s for s in args.sources.split(",") if s]
    unknown = sorted(cases - set(ALL_CASES)) + [s for s in sources if s not in CASES]
    if unknown:
        parser.error(f"unknown case or source: {', '.join(unknown)}")
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": args.rows,
        "cpus": os.cpu_count(),
        "targets": TARGETS,
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        results.update(measure(cases, sources, args.rows, Path(tmp)))
    out = args.out or ROOT / "bench" / "results" / f"{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(report(results))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
