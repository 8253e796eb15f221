"""The realistic CSV export into PostgreSQL: rows/s, and whether the `Note` column's
empty strings arrive as empty strings and its NULLs as NULL, counted in the destination
against the generator's own counts (sandbox.holistics_realistic.note_counts).

The server is the one `scripts/with-postgres.sh` starts (`PG_TEST_DSN`); each run loads
into a database of its own, dropped afterwards. Without a server: "skipped: no server"."""

from __future__ import annotations

import os
import tomllib
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.cases import CASES
from bench.harness import ROOT, Runner, log, pick
from sandbox.holistics_realistic import EMPTY, NULL, note_counts


def postgres(env: dict[str, str], rows: int, work: Path) -> dict[str, Any]:
    """Run on a warm sandbox serving the CSV case's `rows` rows (`env`)."""
    import psycopg2

    case = CASES["holistics"]
    dsn = os.environ.get("PG_TEST_DSN")
    if not dsn:
        return {"skipped": "no server"}
    try:
        with scratch_database(dsn) as target:
            log(f"postgres: {rows:,} rows")
            run = Runner(work, "postgres").run(
                case.source,
                {**env, "DESTINATION__POSTGRES__CREDENTIALS": target},
                "--destination",
                "postgres",
            )
            found = notes(target, f"{case.source}.{case.table}") if run["code"] == 0 else {}
    except psycopg2.OperationalError as exc:
        return {"skipped": f"no server ({' '.join(str(exc).split())[:200]})"}
    expected = note_counts(rows)
    return {
        "loader_file_format": loader_file_format(),
        "pipeline": pick(run, case.table),
        "notes": found,
        "expected_notes": {EMPTY: expected[EMPTY], NULL: expected[NULL]},
        "empty_kept": found == {EMPTY: expected[EMPTY], NULL: expected[NULL]},
    }


@contextmanager
def scratch_database(dsn: str) -> Iterator[str]:
    import psycopg2

    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(dsn)
    admin.autocommit = True
    try:
        with admin.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name}")
        yield dsn.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def notes(dsn: str, table: str) -> dict[str, int]:
    import psycopg2

    con = psycopg2.connect(dsn)
    try:
        with con.cursor() as cursor:
            cursor.execute(
                f"SELECT count(*) FILTER (WHERE note = ''), count(*) FILTER (WHERE note IS NULL) "
                f"FROM {table}"
            )
            empty, null = cursor.fetchone()
    finally:
        con.close()
    return {EMPTY: empty, NULL: null}


def loader_file_format() -> str | None:
    """The file format the pipeline loads PostgreSQL with (destinations.toml)."""
    with (ROOT / "destinations.toml").open("rb") as handle:
        return tomllib.load(handle)["postgres"].get("loader_file_format")
