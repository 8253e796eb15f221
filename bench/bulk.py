"""Bulk loads: one N-row result into a fresh DuckDB file, against (a) a bare download of
the same bytes and (b) DuckDB reading them natively; the no-op rerun; memory at N / 10."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.cases import Case
from bench.harness import Runner, Sandbox, baseline, log, merged, pick


def bulk(case: Case, env: dict[str, str], rows: int, work: Path, *, noop: bool) -> dict[str, Any]:
    """The pipeline and its baselines on a running sandbox of `rows` rows (`env`)."""
    source = case.source
    raw = work / f"{source}_raw"
    log(f"{source}: warming the simulator ({rows:,} rows)")
    # fill the simulator's cache, untimed, with the baseline's pages and with the
    # pipeline's own: its windows and chunks cut the result into other pages, and a
    # rerun asks for the lookback window (a Holistics export of other dates)
    baseline("fetch", source, raw, env)
    warmup = Runner(work, f"{source}_warmup")
    for _ in range(2 if noop else 1):
        warmup.run(source, env)
    log(f"{source}: (a) bare httpx fetch")
    a = baseline("fetch", source, raw, env)
    log(f"{source}: (b) DuckDB native ingest")
    b = baseline("ingest", source, raw, env)
    log(f"{source}: pipeline")
    runner = Runner(work, f"{source}_pipeline")
    p = pick(runner.run(source, env), case.table)
    ab = (a.get("seconds") or 0) + (b.get("seconds") or 0)
    out: dict[str, Any] = {
        "kind": case.kind,
        "what": case.what,
        "table": case.table,
        "pipeline": p,
        "a_fetch": {k: a.get(k) for k in ("seconds", "requests", "bytes")},
        "b_ingest": {k: b.get(k) for k in ("seconds", "rows")},
        "pipeline_over_a_plus_b": p["wall"] / ab if ab else None,
    }
    if noop:
        log(f"{source}: incremental no-op rerun")
        out["noop"] = pick(runner.run(source, env))
    return out


def memory_small(case: Case, rows: int, work: Path) -> dict[str, Any]:
    """The same load at `rows` rows, on its own sandbox: the pipeline's peak RSS."""
    with Sandbox(*case.sandbox(rows)) as sandbox:
        log(f"{case.source}: pipeline at {rows:,} rows (memory)")
        runner = Runner(work, f"{case.source}_small")
        return pick(runner.run(case.source, merged(sandbox.env, case.env())), case.table)
