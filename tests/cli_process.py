"""Start `python -m pipelines` without paying the interpreter's import of dlt each time.

Every test runs the real CLI in a process of its own; a fresh interpreter spends ~0.5 s of
CPU importing dlt before it does anything, a few hundred times a suite. A multiprocessing
forkserver imports dlt (and httpx, pendulum) once per test worker; each CLI run is a fork
of it: its own process, working directory, environment, stdout and stderr files and exit
code, as `python -m pipelines` run by `subprocess`. Only modules that start no thread are
preloaded (pyarrow's allocator and duckdb start native threads at import, which a fork
would not carry), so the run imports those, and every module of ours, itself."""

from __future__ import annotations

import atexit
import gc
import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# imported once per worker; none of them starts a thread
PRELOAD = [
    "dlt",
    "dlt.common.destination.reference",
    "dlt.destinations",
    "dlt.extract",
    "dlt.pipeline",
    "dlt.sources",
    "httpx",
    "pendulum",
    "tenacity",
    __name__,
]

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


def run(argv: list[str], cwd: str, env: dict[str, str], out: str, err: str) -> None:
    """In the forked child: become `python -m pipelines ARGV` in CWD with ENV; never returns
    normally but through SystemExit (multiprocessing turns it into the exit code)."""
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    time.tzset()
    for fd, path in ((1, out), (2, err)):
        target = os.open(path, os.O_WRONLY)
        os.dup2(target, fd)
        os.close(target)
    sys.argv = ["-m", *argv]
    gc.freeze()  # the preloaded modules: not the run's garbage
    try:
        runpy.run_module("pipelines", run_name="__main__", alter_sys=True)
    finally:
        atexit._run_exitfuncs()  # what interpreter shutdown would run


def call(argv: list[str], cwd: Path, env: dict[str, str], timeout: float) -> tuple[int, str, str]:
    """Run the CLI in a forked process: (exit code, stdout, stderr); TimeoutExpired as
    `subprocess.run` raises it, the process killed."""
    with tempfile.TemporaryDirectory(prefix="cli-") as scratch:
        out, err = Path(scratch) / "stdout", Path(scratch) / "stderr"
        out.touch()
        err.touch()
        process = _context.Process(target=run, args=(argv, str(cwd), env, str(out), str(err)))
        process.start()
        process.join(timeout)
        if process.exitcode is None:
            process.kill()
            process.join()
            process.close()
            raise subprocess.TimeoutExpired(["python", "-m", "pipelines", *argv], timeout)
        code = process.exitcode  # negative: killed by that signal, as subprocess says
        process.close()
        return code, out.read_text(), err.read_text()
