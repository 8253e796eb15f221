"""One run at a time per source and destination.

An exclusive `flock` on a file beside the pipeline's state: the kernel drops it when the
holder exits, however it exits (SIGKILL included), so a killed run never leaves a stale
lock. The holder writes who it is into the file, so a second run can name it.
The lock guards runs on one machine (one pipelines directory); runs from several
machines into one warehouse need the orchestrator to serialise them."""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pendulum

from sources.common.errors import PipelineError


class RunLocked(PipelineError):
    """Another run of the same source into the same destination is in progress."""

    exit_code = 2


@contextmanager
def run_lock(path: Path, *, wait: float, what: str) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + max(0.0, wait)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise RunLocked(
                        f"another run of {what} is in progress ({_holder(path)})",
                        hint=f"waited {wait:g} s; set [pipelines] lock_wait to wait longer",
                    ) from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(
            fd,
            json.dumps(
                {
                    "pid": os.getpid(),
                    "host": socket.gethostname(),
                    "since": pendulum.now("UTC").to_iso8601_string(),
                }
            ).encode(),
            0,
        )
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _holder(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        info = {}
    if not info:
        return "holder unknown"
    return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')}"
