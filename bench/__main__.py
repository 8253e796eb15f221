"""`python -m bench [--rows N] [--cases bulk,memory,jobs,noop] [--sources …]`

Every measurement runs in child processes: the sandbox (`python -m sandbox`), the
pipeline (`python -m pipelines run SOURCE --summary-json`), each baseline
(`python -m bench.baselines`). Wall time and peak RSS are the child's own (os.wait4).
Results go to bench/results/<date>.json and a markdown table on stdout."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import select
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.cases import CASES, merged

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
ALL_CASES = ("bulk", "memory", "jobs", "noop")
MEMORY_SMALL = 100_000
DICT_ROWS = 100_000  # (c) runs on at most this many rows: dicts load at ~13k rows/s
JOB_LATENCY = 2.0
JOBS = 20


class Sandbox:
    """`python -m sandbox` as a child; its export lines become `env`."""

    def __init__(self, rows: int, faults: str = "") -> None:
        cmd = [PY, "-m", "sandbox", "--rows", str(rows)]
        if faults:
            cmd += ["--faults", faults]
        # unbuffered, so select() sees every line that is not read yet
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, bufsize=0)
        self.env: dict[str, str] = {}
        assert self.proc.stdout is not None
        # the export lines come at once after start-up; a second of silence ends them
        while select.select([self.proc.stdout], [], [], 1.0 if self.env else 60.0)[0]:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            if line.startswith("export "):
                key, value = line[len("export ") :].strip().split("=", 1)
                self.env[key] = shlex.split(value)[0]
        if not self.env:
            raise RuntimeError("the sandbox printed no export lines")
        self.served_429 = 0

    def stop(self) -> None:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=30)
        for line in out.decode().splitlines():
            if line.startswith("served_429="):
                self.served_429 = int(line.split("=", 1)[1])

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Runner:
    """Runs `pipelines run` in a child with its own state folder and DuckDB file."""

    def __init__(self, work: Path, name: str) -> None:
        self.dir = work / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.runs = 0

    def run(self, source: str, env: dict[str, str]) -> dict[str, Any]:
        self.runs += 1
        summary = self.dir / f"summary_{self.runs}.json"
        result = _measured(
            [PY, "-m", "pipelines", "run", source, "--summary-json", str(summary)],
            {
                **env,
                "DLT_DATA_DIR": str(self.dir / "state"),
                "DESTINATION__DUCKDB__CREDENTIALS": str(self.dir / "bench.duckdb"),
            },
        )
        data = json.loads(summary.read_text())["sources"][0] if summary.exists() else {}
        result.update(
            status=data.get("status"),
            rows=data.get("rows", 0),
            requests=data.get("requests", 0),
            retries=data.get("retries", 0),
        )
        return result


def _measured(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Like `child`, but peak RSS of exactly this child through os.wait4."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = b"", b""
    # read both pipes without calling wait(): wait4 must reap the child to get its rusage
    import threading

    chunks: dict[str, bytes] = {}

    def drain(name: str, stream: Any) -> None:
        chunks[name] = stream.read()

    threads = [
        threading.Thread(target=drain, args=("out", proc.stdout)),
        threading.Thread(target=drain, args=("err", proc.stderr)),
    ]
    for t in threads:
        t.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    for t in threads:
        t.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out, err = chunks.get("out", b""), chunks.get("err", b"")
    if proc.returncode:
        sys.stderr.write(f"{' '.join(cmd[1:5])} exited {proc.returncode}:\n")
        sys.stderr.write(err.decode(errors="replace")[-2000:] + "\n")
    return {
        "wall": wall,
        "rss_mb": usage.ru_maxrss / 1024,
        "code": proc.returncode,
        "out": out.decode(errors="replace"),
    }


def baseline(step: str, source: str, directory: Path, env: dict[str, str], **kw: Any) -> dict:
    cmd = [PY, "-m", "bench.baselines", step, source, str(directory)]
    for key, value in kw.items():
        cmd += [f"--{key}", str(value)]
    result = _measured(cmd, env)
    lines = [line for line in result["out"].splitlines() if line.startswith("{")]
    return {**result, **(json.loads(lines[-1]) if lines else {})}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- cases -------------------------------------------------------------------------------


def bulk(source: str, rows: int, work: Path, *, noop: bool) -> dict[str, Any]:
    case = CASES[source]
    out: dict[str, Any] = {"source": source, "what": case.what, "table": case.table}
    with Sandbox(case.sandbox_rows(rows), case.faults()) as sandbox:
        env = merged(sandbox.env, case.env())
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
        log(f"{source}: (c) plain dicts through dlt ({min(rows, DICT_ROWS):,} rows)")
        c = baseline("dicts", source, raw, env, limit=DICT_ROWS)
        log(f"{source}: pipeline")
        runner = Runner(work, f"{source}_pipeline")
        p = runner.run(source, env)
        out["pipeline"] = _pick(p)
        out["pipeline"]["rows_per_s"] = p["rows"] / p["wall"] if p["wall"] else 0
        out["a_fetch"] = {k: a.get(k) for k in ("seconds", "requests", "bytes")}
        out["b_ingest"] = {k: b.get(k) for k in ("seconds", "rows")}
        c_rate = c.get("rows", 0) / c["seconds"] if c.get("seconds") else 0
        out["c_dicts"] = {"seconds": c.get("seconds"), "rows": c.get("rows"), "rows_per_s": c_rate}
        ab = (a.get("seconds") or 0) + (b.get("seconds") or 0)
        out["pipeline_over_a_plus_b"] = p["wall"] / ab if ab else None
        out["c_over_pipeline"] = out["pipeline"]["rows_per_s"] / c_rate if c_rate else None
        if noop:
            log(f"{source}: incremental no-op rerun")
            out["noop"] = _pick(runner.run(source, env))
    return out


def memory_small(source: str, work: Path) -> dict[str, Any]:
    case = CASES[source]
    with Sandbox(case.sandbox_rows(MEMORY_SMALL), case.faults()) as sandbox:
        log(f"{source}: pipeline at {MEMORY_SMALL:,} rows (memory)")
        return _pick(Runner(work, f"{source}_small").run(source, merged(sandbox.env, case.env())))


def jobs(work: Path) -> dict[str, Any]:
    """20 Holistics exports and 20 Kissmetrics report runs, each taking JOB_LATENCY s."""
    import pendulum

    faults = f"holistics.job_latency={JOB_LATENCY},kissmetrics.job_latency={JOB_LATENCY}"
    out: dict[str, Any] = {}
    served_429 = 0
    sales = [100 + 2 * i for i in range(JOBS)]  # any widgets: sales and plans
    holistics = {
        "SOURCES__HOLISTICS__DASHBOARD_IDS": "[]",
        "SOURCES__HOLISTICS__POLL_INTERVAL": "0.25",
    }
    today = pendulum.today("UTC")
    kissmetrics = {
        "SOURCES__KISSMETRICS__REPORT_IDS": json.dumps(["64361c30-4a48-0131-0cbb-22000a9f1c0f"]),
        "SOURCES__KISSMETRICS__WINDOW_DAYS": "1",
        "SOURCES__KISSMETRICS__POLL_INTERVAL": "0.25",
    }
    for source, settings, one, many in (
        (
            "holistics",
            holistics,
            {"SOURCES__HOLISTICS__WIDGET_IDS": json.dumps(sales[:1])},
            {"SOURCES__HOLISTICS__WIDGET_IDS": json.dumps(sales)},
        ),
        (
            "kissmetrics",
            kissmetrics,
            {"SOURCES__KISSMETRICS__START_DATE": today.to_date_string()},
            {"SOURCES__KISSMETRICS__START_DATE": today.subtract(days=JOBS - 1).to_date_string()},
        ),
    ):
        log(f"jobs: {source}, 1 job then {JOBS}")
        walls = {}
        # a fresh sandbox per run: quota windows must not carry over from one run to the next
        for label, selection in (("1", one), ("n", many)):
            with Sandbox(23 * 500, faults) as sandbox:
                walls[label] = Runner(work, f"jobs_{source}_{label}").run(
                    source, merged(sandbox.env, settings, selection)
                )
            served_429 += sandbox.served_429
        out[source] = {
            "one": _pick(walls["1"]),
            "many": _pick(walls["n"]),
            "ratio": walls["n"]["wall"] / walls["1"]["wall"],
        }
    out["served_429"] = served_429
    return out


def _pick(result: dict[str, Any]) -> dict[str, Any]:
    keys = ("wall", "rss_mb", "rows", "requests", "retries", "status", "code")
    return {k: result.get(k) for k in keys}


# -- report ------------------------------------------------------------------------------

TARGETS = {
    "csv_rows_per_s": 150_000,
    "json_rows_per_s": 100_000,
    "c_over_pipeline": 10.0,
    "pipeline_over_a_plus_b": 2.0,
    "memory_ratio": 1.3,
    "rss_mb": 400,
    "jobs_ratio": 1.5,
    "noop_seconds": 5.0,
}


def ok(flag: bool) -> str:
    return "yes" if flag else "**no**"


def table(results: dict[str, Any]) -> str:
    rows = results["rows"]
    lines = [
        f"Bulk loads, {rows:,} rows each, end to end into a fresh DuckDB file",
        "",
        "| source | result | rows | wall s | rows/s (target) | ok | peak RSS MB | HTTP req "
        "| (a) fetch s | (b) DuckDB s | pipeline ÷ (a+b) (≤ 2.0) | ok | (c) dicts rows/s "
        "| (c) ÷ pipeline (≥ 10) | ok |",
        "|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    for source, r in results.get("bulk", {}).items():
        p, case = r["pipeline"], CASES[source]
        target = TARGETS["csv_rows_per_s" if case.kind == "csv" else "json_rows_per_s"]
        lines.append(
            f"| {source} | {case.what} | {p['rows']:,} | {p['wall']:.1f} | "
            f"{p['rows_per_s']:,.0f} (≥ {target:,}) | {ok(p['rows_per_s'] >= target)} | "
            f"{p['rss_mb']:.0f} | {p['requests']} | {r['a_fetch']['seconds']:.2f} | "
            f"{r['b_ingest']['seconds']:.2f} | {r['pipeline_over_a_plus_b']:.2f} | "
            f"{ok(r['pipeline_over_a_plus_b'] <= 2.0)} | {r['c_dicts']['rows_per_s']:,.0f} | "
            f"{r['c_over_pipeline']:.1f} | {ok(r['c_over_pipeline'] >= 10)} |"
        )
    if results.get("memory"):
        lines += [
            "",
            "Memory: peak RSS of the pipeline process",
            "",
            "| source | at 100,000 MB | at " + f"{rows:,}" + " MB | ratio (≤ 1.3) | ok "
            "| under 400 MB | ",
            "|---|---:|---:|---:|---|---|",
        ]
        for source, m in results["memory"].items():
            lines.append(
                f"| {source} | {m['small_mb']:.0f} | {m['large_mb']:.0f} | {m['ratio']:.2f} | "
                f"{ok(m['ratio'] <= 1.3)} | {ok(m['large_mb'] < 400)} |"
            )
    if results.get("jobs"):
        j = results["jobs"]
        lines += [
            "",
            f"Async jobs: {JOBS} jobs of {JOB_LATENCY:.0f} s latency each "
            f"(429s served: {j['served_429']}, target 0: {ok(j['served_429'] == 0)})",
            "",
            "| source | 1 job s | 20 jobs s | ratio (≤ 1.5) | ok | requests (20 jobs) |",
            "|---|---:|---:|---:|---|---:|",
        ]
        for source in ("holistics", "kissmetrics"):
            s = j[source]
            lines.append(
                f"| {source} | {s['one']['wall']:.2f} | {s['many']['wall']:.2f} | "
                f"{s['ratio']:.2f} | {ok(s['ratio'] <= 1.5)} | {s['many']['requests']} |"
            )
    noops = {s: r["noop"] for s, r in results.get("bulk", {}).items() if "noop" in r}
    if noops:
        lines += [
            "",
            "Incremental no-op: a second run with no new data",
            "",
            "| source | wall s (≤ 5) | ok | requests | rows re-fetched (lookback window) |",
            "|---|---:|---|---:|---:|",
        ]
        for source, n in noops.items():
            lines.append(
                f"| {source} | {n['wall']:.2f} | {ok(n['wall'] <= 5)} | {n['requests']} | "
                f"{n['rows']:,} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of each bulk result")
    parser.add_argument("--cases", default=",".join(ALL_CASES), help="bulk,memory,jobs,noop")
    parser.add_argument("--sources", default=",".join(CASES), help="bulk/memory sources")
    parser.add_argument("--out", type=Path, help="results JSON (default bench/results/<date>.json)")
    args = parser.parse_args(argv)
    cases = [c for c in args.cases.split(",") if c]
    sources = [s for s in args.sources.split(",") if s]
    unknown = [c for c in cases if c not in ALL_CASES] + [s for s in sources if s not in CASES]
    if unknown:
        parser.error(f"unknown case or source: {', '.join(unknown)}")
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": args.rows,
        "cpus": os.cpu_count(),
        "targets": TARGETS,
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        work = Path(tmp)
        if "bulk" in cases or "memory" in cases or "noop" in cases:
            results["bulk"] = {s: bulk(s, args.rows, work, noop="noop" in cases) for s in sources}
        if "memory" in cases:
            results["memory"] = {}
            for source in sources:
                small = memory_small(source, work)
                large = results["bulk"][source]["pipeline"]["rss_mb"]
                results["memory"][source] = {
                    "small_rows": small["rows"],
                    "small_mb": small["rss_mb"],
                    "large_mb": large,
                    "ratio": large / small["rss_mb"],
                }
        if "jobs" in cases:
            results["jobs"] = jobs(work)
    out = args.out or ROOT / "bench" / "results" / f"{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    print(f"\nresults: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
