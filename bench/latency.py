"""Latency: every sandbox answer delayed LATENCY seconds (the `slow_seconds` fault), page
sizes and concurrency as each vendor documents or tolerates (Case.paging), Holistics'
documented quotas on. A run that hides the latency takes about
requests × LATENCY ÷ concurrency; the concurrency is what the sandbox saw in flight."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.cases import Case
from bench.harness import Runner, Sandbox, log, merged, pick

LATENCY = 0.15
LATENCY_ROWS = 300_000  # a run of each source takes 5-20 s at this size


def latency(case: Case, rows: int, work: Path) -> dict[str, Any]:
    source = case.source
    with Sandbox(*case.sandbox(rows, latency=LATENCY)) as sandbox:
        env = merged(sandbox.env, case.env(latency=True))
        log(f"{source}: {LATENCY * 1000:.0f} ms a request, {rows:,} rows: warm-up run")
        Runner(work, f"{source}_latency_warmup").run(source, env)  # fills the caches
        sandbox.counts()  # the warm-up's requests are not the measured run's
        log(f"{source}: {LATENCY * 1000:.0f} ms a request: measured run")
        p = pick(Runner(work, f"{source}_latency").run(source, env), case.table)
        counts = sandbox.counts()
    # the pipeline at its peak concurrency from first request to last: the best it can do
    ideal = counts["requests"] * LATENCY / counts["peak"] if counts["peak"] else 0.0
    return {
        "pipeline": p,
        "requests": int(counts["requests"]),
        "peak_in_flight": int(counts["peak"]),
        "mean_in_flight": counts["mean"],
        "busy_seconds": counts["busy_seconds"],
        "ideal_seconds": ideal,
        "wall_over_ideal": p["wall"] / ideal if ideal else None,
        "served_429": sandbox.served_429,
    }
