"""`python -m pipelines demo`: the real pipelines against the local sandbox.

Starts every simulator on free loopback ports, points the sources at them through the
same environment variables a user would set, loads into a fresh `data/demo.duckdb`
with pipeline state in a throwaway folder, prints the summary and a sample query. The
simulators (`sandbox/`) live in the repository, not in the installed package: the demo
runs from a clone."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import duckdb

from pipelines.destinations import NamedDestination
from pipelines.registry import SOURCES, names
from sources.common.errors import ConfigError

DEMO_FILE = Path("data/demo.duckdb")
DEMO_SETTINGS = {
    # the sandbox answers at loopback speed: poll often, keep windows small
    "SOURCES__KISSMETRICS__POLL_INTERVAL": "0.05",
    "SOURCES__KISSMETRICS__WINDOW_DAYS": "7",
    "SOURCES__HOLISTICS__POLL_INTERVAL": "0.05",
    # the sandbox's insights, so the demo shows which KPIs each one feeds
    "SOURCES__QUANTIVE__INSIGHT_IDS": '["insight-0", "insight-1", "insight-2"]',
}


@contextlib.contextmanager
def sandboxed(rows: int) -> Iterator[NamedDestination]:
    """The sandbox up and every source pointed at it; yields the demo's destination."""
    try:
        from sandbox import Sandbox
    except ModuleNotFoundError as exc:
        if exc.name != "sandbox":
            raise
        raise ConfigError(
            "the demo needs the vendor simulators in sandbox/, which come with the "
            "repository, not with the installed package: run it from a clone "
            "(`make demo`, or `python -m pipelines demo` in the clone's root)"
        ) from None
    DEMO_FILE.parent.mkdir(parents=True, exist_ok=True)
    for stale in (DEMO_FILE, DEMO_FILE.with_suffix(".duckdb.wal")):
        stale.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="demo-state-") as state_dir, Sandbox(rows=rows) as sb:
        print(f"sandbox up: {len(sb.servers)} hosts on 127.0.0.1, {rows:,} rows per vendor")
        os.environ.update(sb.env())
        os.environ.update(DEMO_SETTINGS)
        os.environ["DLT_DATA_DIR"] = state_dir
        os.environ["DESTINATION__DEMO__CREDENTIALS"] = str(DEMO_FILE.resolve())
        yield NamedDestination("demo", "duckdb", "parquet")


def show_samples() -> None:
    """Each source's sample query over what the demo loaded, and where it is."""
    if DEMO_FILE.exists():
        with duckdb.connect(str(DEMO_FILE), read_only=True) as con:
            for name in names():
                query = SOURCES[name].sample_query
                if not query:
                    continue
                print(f"\n-- {name}\n{query}")
                try:
                    con.sql(query).show(max_rows=10)
                except duckdb.Error as exc:
                    print(f"(query failed: {exc})")
    print(f"\nloaded into {DEMO_FILE.resolve()}; open it with: duckdb {DEMO_FILE}")
