"""Shared fixtures: a fresh sandbox per test, the real CLI in a subprocess, DuckDB reads."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from pipelines.registry import names
from sandbox import Sandbox
from tests import cli_process

ROOT = Path(__file__).resolve().parent.parent

# Fast knobs for loopback, for every vendor the registry knows: tiny backoffs and poll
# pauses, few attempts (a vendor without jobs has no `poll_interval`; dlt never reads it).
_FAST_KEYS = {
    "POLL_INTERVAL": "0.02",
    "HTTP__BACKOFF_INITIAL": "0.01",
    "HTTP__BACKOFF_MAX": "0.1",
    "HTTP__MAX_ATTEMPTS": "5",
    "HTTP__READ_TIMEOUT": "5",
}
FAST = {
    "RUNTIME__LOG_LEVEL": "WARNING",
    **{
        f"SOURCES__{vendor.upper()}__{key}": value
        for vendor in names()
        for key, value in _FAST_KEYS.items()
    },
}


@dataclass
class CliResult:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Cli:
    """Runs `python -m pipelines …` as a user would, against the sandbox, in a temp dir."""

    def __init__(self, tmp: Path, env: dict[str, str]) -> None:
        self.tmp = tmp
        self.db = tmp / "warehouse.duckdb"
        self.env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("SOURCES__", "DESTINATION__"))
            },
            **env,
            **FAST,
            "DLT_DATA_DIR": str(tmp / "dlt"),
            "DESTINATION__DUCKDB__CREDENTIALS": str(self.db),
        }

    def __call__(
        self, *args: str, extra_env: dict[str, str] | None = None, timeout: float = 180
    ) -> CliResult:
        env = {**self.env, **(extra_env or {})}
        return CliResult(*cli_process.call(list(args), self.tmp, env, timeout))

    def sql(self, query: str) -> list[tuple]:
        with duckdb.connect(str(self.db), read_only=True) as con:
            return con.sql(query).fetchall()


def shown_rows(text: str) -> list[list[str]]:
    """The cells of each line of the tables DuckDB's `show` printed in `text`, its two
    header lines (column names, then types) included."""
    lines = [line.strip().strip("│") for line in text.splitlines() if line.startswith("│")]
    return [[cell.strip() for cell in line.split("│")] for line in lines]


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with Sandbox(rows=600) as sb:
        yield sb


@pytest.fixture
def cli(tmp_path: Path, sandbox: Sandbox) -> Cli:
    return Cli(tmp_path, sandbox.env())


@pytest.fixture(autouse=True)
def _frozen_heap() -> Iterator[None]:
    """Objects alive before the test (pytest's, hypothesis', the imported modules) moved
    out of the garbage collector's sight: the sources' `release_memory` collects after
    every bulk part, and a full collection over a test runner's heap cost the property
    tests ~90% of their time. What the test itself creates is still collected."""
    gc.freeze()
    yield
    gc.unfreeze()


# The longest tests (`make test --durations`), started first so that neither xdist worker
# is left running one of them alone at the end of the suite.
LONG_FIRST = (
    "tests/test_bench.py::test_bulk_noop_and_postgres_cases_produce_their_figures",
    "tests/test_cli.py::test_demo_loads_every_source_and_shows_a_query",
    "tests/test_secrets.py::test_no_secret_in_anything_the_pipeline_writes",
    "tests/test_destinations.py::test_postgres_holds_exactly_what_duckdb_holds",
    "tests/test_faults.py",
    "tests/test_orchestration.py::test_dagster",
    "tests/test_crash.py::test_a_killed_run_is_healed_by_the_next",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, prefix in enumerate(LONG_FIRST) if item.nodeid.startswith(prefix)),
            len(LONG_FIRST),
        )

    items.sort(key=rank)  # stable: the rest keep their order
