"""The targets, and the markdown tables that print every figure next to its target."""

from __future__ import annotations

from typing import Any

from bench.jobs import JOB_LATENCY, JOBS
from bench.latency import LATENCY

TARGETS: dict[str, float] = {
    "csv_rows_per_s": 300_000,  # CSV into DuckDB, end to end
    "json_rows_per_s": 200_000,  # JSON pages into DuckDB
    "over_baselines": 2.0,  # pipeline ÷ ((a) download + (b) DuckDB reading the bytes)
    "rss_mb": 300,  # peak RSS of every bulk load
    "rss_ratio": 1.2,  # peak RSS at N ÷ at N / 10
    "latency_ratio": 1.25,  # wall ÷ (requests × latency ÷ concurrency)
    "served_429": 0,  # under the documented quotas
    "merge_ratio": 1.5,  # 1-day lookback merge into 10 × N rows ÷ into N / 10 rows
    "postgres_rows_per_s": 150_000,  # the CSV case into PostgreSQL
    "jobs_ratio": 1.5,  # 20 async jobs ÷ 1
    "noop_seconds": 5.0,  # a rerun with no new data
}
AT_LEAST = {"csv_rows_per_s", "json_rows_per_s", "postgres_rows_per_s"}


def verdict(value: float | None, target: str) -> str:
    if value is None:
        return "**no**"
    good = value >= TARGETS[target] if target in AT_LEAST else value <= TARGETS[target]
    return "ok" if good else "**no**"


def bound(target: str) -> str:
    return f"({'≥' if target in AT_LEAST else '≤'} {TARGETS[target]:,g})"


def row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def head(title: str, *columns: str) -> list[str]:
    """A table's title and header; a column named `#…` holds numbers (right-aligned)."""
    aligns = ["---:" if c.startswith("#") else "---" for c in columns]
    return ["", title, "", row(*(c.removeprefix("#") for c in columns)), row(*aligns)]


def bulk_table(results: dict[str, Any]) -> list[str]:
    lines = head(
        f"Bulk loads, {results['rows']:,} rows each, end to end into a fresh DuckDB file",
        *("source", "result", "#rows", "#MB", "#wall s", "#rows/s (target)", "ok"),
        *("#peak RSS MB " + bound("rss_mb"), "ok", "#HTTP req", "#(a) fetch s"),
        *("#(b) DuckDB s", "#pipeline ÷ (a+b) " + bound("over_baselines"), "ok"),
    )
    for source, r in results["bulk"].items():
        p, ratio = r["pipeline"], r["pipeline_over_a_plus_b"]
        target = f"{r['kind']}_rows_per_s"
        lines.append(
            row(
                *(source, r["what"], f"{p['rows']:,}", f"{(r['a_fetch']['bytes'] or 0) / 1e6:.0f}"),
                *(f"{p['wall']:.1f}", f"{p['rows_per_s']:,.0f} {bound(target)}"),
                *(verdict(p["rows_per_s"], target), f"{p['rss_mb']:.0f}"),
                *(verdict(p["rss_mb"], "rss_mb"), p["requests"]),
                *(f"{r['a_fetch']['seconds']:.2f}", f"{r['b_ingest']['seconds']:.2f}"),
                *(f"{ratio:.2f}", verdict(ratio, "over_baselines")),
            )
        )
    return lines


def memory_table(results: dict[str, Any]) -> list[str]:
    lines = head(
        "Memory: peak RSS of the pipeline process",
        *("source", "#at N / 10 MB", f"#at {results['rows']:,} MB"),
        *("#ratio " + bound("rss_ratio"), "ok"),
    )
    for source, m in results["memory"].items():
        lines.append(
            row(
                source,
                f"{m['small_mb']:.0f} ({m['small_rows']:,} rows)",
                f"{m['large_mb']:.0f}",
                f"{m['ratio']:.2f}",
                verdict(m["ratio"], "rss_ratio"),
            )
        )
    return lines


def latency_table(results: dict[str, Any]) -> list[str]:
    lines = head(
        f"Latency: every answer {LATENCY * 1000:.0f} ms late, documented quotas on",
        *("source", "#rows", "#wall s", "#on the wire s", "#requests", "#in flight: peak", "#mean"),
        *(f"#ideal s = req × {LATENCY} ÷ peak", "#wall ÷ ideal " + bound("latency_ratio")),
        *("ok", "#429s", "ok"),
    )
    for source, r in results["latency"].items():
        p = r["pipeline"]
        lines.append(
            row(
                *(source, f"{p['rows']:,}", f"{p['wall']:.1f}", f"{r['busy_seconds']:.1f}"),
                r["requests"],
                *(r["peak_in_flight"], f"{r['mean_in_flight']:.2f}", f"{r['ideal_seconds']:.2f}"),
                *(f"{r['wall_over_ideal']:.2f}", verdict(r["wall_over_ideal"], "latency_ratio")),
                *(r["served_429"], verdict(r["served_429"], "served_429")),
            )
        )
    return lines


def postgres_table(results: dict[str, Any]) -> list[str]:
    r = results["postgres"]
    if "skipped" in r:
        return ["", f"PostgreSQL, the CSV case: skipped: {r['skipped'].removeprefix('skipped: ')}"]
    p, found, expected = r["pipeline"], r["notes"], r["expected_notes"]
    lines = head(
        f"PostgreSQL, the CSV case into a fresh database ({r['loader_file_format']} files, "
        "as destinations.toml has it)",
        *("#rows", "#wall s", "#rows/s " + bound("postgres_rows_per_s"), "ok", "#peak RSS MB"),
        *("#empty notes: generator", "#in PostgreSQL", "#NULL notes: generator"),
        *("#in PostgreSQL", "empty kept empty"),
    )
    lines.append(
        row(
            *(f"{p['rows']:,}", f"{p['wall']:.1f}", f"{p['rows_per_s']:,.0f}"),
            *(verdict(p["rows_per_s"], "postgres_rows_per_s"), f"{p['rss_mb']:.0f}"),
            *(f"{expected['empty']:,}", f"{found.get('empty', 0):,}"),
            *(f"{expected['null']:,}", f"{found.get('null', 0):,}"),
            "ok" if r["empty_kept"] else "**no**",
        )
    )
    return lines


def merge_table(results: dict[str, Any]) -> list[str]:
    m = results["merge"]
    lines = head(
        "Incremental merge: the CSV widget rerun with a 1-day lookback",
        *("#table rows", "#rows merged", "#rows after", "#rerun wall s", "#peak RSS MB"),
    )
    for size in ("small", "large"):
        r = m[size]
        lines.append(
            row(
                *(f"{r['table_rows']:,}", f"{r['rows']:,}", f"{r['rows_after']:,}"),
                *(f"{r['wall']:.2f}", f"{r['rss_mb']:.0f}"),
            )
        )
    ratio = m["ratio"]
    return [
        *lines,
        "",
        f"large ÷ small: {ratio:.2f} {bound('merge_ratio')}: {verdict(ratio, 'merge_ratio')}",
    ]


def jobs_table(results: dict[str, Any]) -> list[str]:
    j = results["jobs"]
    lines = head(
        f"Async jobs: {JOBS} jobs of {JOB_LATENCY:.0f} s latency each (429s served: "
        f"{j['served_429']}, {verdict(j['served_429'], 'served_429')})",
        *("source", "#1 job s", f"#{JOBS} jobs s", "#ratio " + bound("jobs_ratio"), "ok"),
        f"#requests ({JOBS} jobs)",
    )
    for source in ("holistics", "kissmetrics"):
        s = j[source]
        lines.append(
            row(
                *(source, f"{s['one']['wall']:.2f}", f"{s['many']['wall']:.2f}"),
                *(f"{s['ratio']:.2f}", verdict(s["ratio"], "jobs_ratio"), s["many"]["requests"]),
            )
        )
    return lines


def noop_table(results: dict[str, Any]) -> list[str]:
    lines = head(
        "Incremental no-op: a second run with no new data",
        *("source", "#wall s " + bound("noop_seconds"), "ok", "#requests"),
        "#rows re-fetched (lookback window)",
    )
    for source, r in results["bulk"].items():
        n = r["noop"]
        lines.append(
            row(
                *(source, f"{n['wall']:.2f}", verdict(n["wall"], "noop_seconds")),
                *(n["requests"], f"{n['rows']:,}"),
            )
        )
    return lines


def report(results: dict[str, Any]) -> str:
    tables = {
        "bulk": bulk_table,
        "memory": memory_table,
        "latency": latency_table,
        "postgres": postgres_table,
        "merge": merge_table,
        "jobs": jobs_table,
    }
    lines = [line for key, table in tables.items() if results.get(key) for line in table(results)]
    if any("noop" in r for r in results.get("bulk", {}).values()):
        lines += noop_table(results)
    return "\n".join(lines).strip()
