"""The children every case runs: the sandbox, the pipeline, the baselines.

Each figure belongs to one child process: wall seconds and peak RSS are that child's own
(`os.wait4`), so the harness's own imports and bookkeeping never count."""

from __future__ import annotations

import json
import os
import select
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


class Sandbox:
    """`python -m sandbox` as a child; its export lines become `env`."""

    def __init__(self, rows: int, faults: str = "") -> None:
        cmd = [PY, "-m", "sandbox", "--rows", str(rows)]
        if faults:
            cmd += ["--faults", faults]
        # unbuffered, so select() sees every line that is not read yet
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, bufsize=0)
        self.env: dict[str, str] = {}
        self.served_429 = 0
        # the export lines come at once after start-up; a second of silence ends them
        while self._ready(1.0 if self.env else 60.0):
            line = self._line()
            if not line:
                break
            if line.startswith("export "):
                key, value = line[len("export ") :].strip().split("=", 1)
                self.env[key] = shlex.split(value)[0]
        if not self.env:
            raise RuntimeError("the sandbox printed no export lines")

    def counts(self) -> dict[str, float]:
        """Requests served since the last call (or the start), their peak and mean number
        in flight (sandbox.server.InFlight); the sandbox then counts from zero."""
        os.kill(self.proc.pid, signal.SIGUSR1)
        while self._ready(30.0):
            line = self._line()
            if line.startswith("in_flight "):
                return in_flight(line)
        raise RuntimeError("the sandbox did not report its request counts")

    def stop(self) -> None:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=30)
        for line in out.decode().splitlines():
            if line.startswith("served_429="):
                self.served_429 = int(line.split("=", 1)[1])

    def _ready(self, timeout: float) -> bool:
        return bool(select.select([self.proc.stdout], [], [], timeout)[0])

    def _line(self) -> str:
        assert self.proc.stdout is not None
        return self.proc.stdout.readline().decode()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def in_flight(line: str) -> dict[str, float]:
    """`in_flight requests=12 peak=4 mean=3.71 busy_seconds=0.52` as numbers."""
    return {k: float(v) for k, v in (item.split("=") for item in line.split()[1:])}


class Runner:
    """Runs `pipelines run` in a child with its own state folder and DuckDB file."""

    def __init__(self, work: Path, name: str) -> None:
        self.dir = work / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.database = self.dir / "bench.duckdb"
        self.runs = 0

    def copy(self, name: str) -> Runner:
        """Another runner holding the same pipeline state and destination file."""
        shutil.copytree(self.dir, self.dir.parent / name)
        twin = Runner(self.dir.parent, name)
        twin.runs = self.runs
        return twin

    def run(self, source: str, env: dict[str, str], *args: str) -> dict[str, Any]:
        self.runs += 1
        summary = self.dir / f"summary_{self.runs}.json"
        result = measured(
            [PY, "-m", "pipelines", "run", source, "--summary-json", str(summary), *args],
            {
                **env,
                "DLT_DATA_DIR": str(self.dir / "state"),
                "DESTINATION__DUCKDB__CREDENTIALS": str(self.database),
            },
        )
        data = json.loads(summary.read_text())["sources"][0] if summary.exists() else {}
        result.update(
            status=data.get("status"),
            rows=data.get("rows", 0),
            tables=data.get("tables", {}),
            requests=data.get("requests", 0),
            retries=data.get("retries", 0),
        )
        return result


def measured(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run a child to its end: its wall seconds, peak RSS (os.wait4), exit code, stdout."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    # read both pipes without calling wait(): wait4 must reap the child to get its rusage
    chunks: dict[str, bytes] = {}

    def drain(name: str, stream: Any) -> None:
        chunks[name] = stream.read()

    readers = [
        threading.Thread(target=drain, args=("out", proc.stdout)),
        threading.Thread(target=drain, args=("err", proc.stderr)),
    ]
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    for reader in readers:
        reader.join()
    code = os.waitstatus_to_exitcode(status)
    if code:
        sys.stderr.write(f"{' '.join(cmd[1:5])} exited {code}:\n")
        sys.stderr.write(chunks.get("err", b"").decode(errors="replace")[-2000:] + "\n")
    return {
        "wall": wall,
        "rss_mb": usage.ru_maxrss / 1024,
        "code": code,
        "out": chunks.get("out", b"").decode(errors="replace"),
    }


def baseline(step: str, source: str, directory: Path, env: dict[str, str]) -> dict[str, Any]:
    """`python -m bench.baselines STEP SOURCE DIR`: its own JSON line, and its wall/RSS."""
    result = measured([PY, "-m", "bench.baselines", step, source, str(directory)], env)
    lines = [line for line in result["out"].splitlines() if line.startswith("{")]
    return {**result, **(json.loads(lines[-1]) if lines else {})}


def pick(result: dict[str, Any], table: str | None = None) -> dict[str, Any]:
    """The figures of a pipeline run worth keeping; `rows` of `table` only, when given."""
    keys = ("wall", "rss_mb", "rows", "requests", "retries", "status", "code")
    out = {k: result.get(k) for k in keys}
    if table is not None:
        out["rows"] = result.get("tables", {}).get(table, 0)
        out["rows_per_s"] = out["rows"] / result["wall"] if result["wall"] else 0.0
    return out


def merged(*parts: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in parts:
        out.update({k: str(v) for k, v in part.items()})
    return out


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)
