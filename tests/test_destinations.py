"""The same sources into other destinations: PostgreSQL (a real server, started by the test
command) must hold exactly what DuckDB holds, before and after an incremental rerun; the
filesystem destination writes Parquet that DuckDB reads back with the same rows."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.registry import names
from sandbox import Sandbox
from tests.conftest import Cli
from tests.kissmetrics_support import TABLES, truth
from tests.truth import HISTORY

PG_DSN = os.environ.get("PG_TEST_DSN")
needs_postgres = pytest.mark.skipif(not PG_DSN, reason="no PostgreSQL (run through make test)")


@pytest.fixture
def pg_database() -> Iterator[str]:
    import psycopg2

    name = f"elt_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(PG_DSN)
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE {name}")
    yield PG_DSN.rsplit("/", 1)[0] + f"/{name}"
    with admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.close()


def normal(value: Any) -> Any:
    """One spelling per value, whichever database it came from."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | float):
        return round(float(value), 6)
    if isinstance(value, dict | list):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.dumps(json.loads(value), sort_keys=True)
        except ValueError:
            return value
    return value


def dump(rows_of: Any, tables_of: Any, dataset: str) -> dict[str, list[tuple]]:
    """Every data table of a dataset, without dlt's own columns (ids differ per load)."""
    content = {}
    for table, columns in tables_of(dataset).items():
        data = sorted(c for c in columns if not c.startswith("_dlt"))  # order differs by db
        rows = rows_of(
            f'SELECT {", ".join(f"{chr(34)}{c}{chr(34)}" for c in data)} FROM {dataset}."{table}"'
        )
        content[table] = sorted((tuple(normal(v) for v in row) for row in rows), key=repr)
    return content


def duck_dump(path: Path, dataset: str) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return dump(lambda q: con.sql(q).fetchall(), lambda d: _tables(con.sql, d), dataset)


def pg_dump(dsn: str, dataset: str) -> dict[str, list[tuple]]:
    import psycopg2

    with psycopg2.connect(dsn) as con, con.cursor() as cursor:

        def rows_of(query: str) -> list[tuple]:
            cursor.execute(query)
            return cursor.fetchall()

        return dump(rows_of, lambda d: _tables(lambda q: _Rows(rows_of(q)), d), dataset)


class _Rows:
    def __init__(self, rows: list[tuple]) -> None:
        self.rows = rows

    def fetchall(self) -> list[tuple]:
        return self.rows


def _tables(run: Any, dataset: str) -> dict[str, list[str]]:
    rows = run(
        "SELECT table_name, column_name FROM information_schema.columns "
        f"WHERE table_schema = '{dataset}' AND table_name NOT LIKE '\\_dlt%' ESCAPE '\\' "
        "AND table_name <> '_runs' ORDER BY table_name, ordinal_position"
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


@needs_postgres
@pytest.mark.postgres
@pytest.mark.parametrize("source", names())
def test_postgres_holds_exactly_what_duckdb_holds(
    source: str, sandbox: Sandbox, tmp_path: Path, pg_database: str
) -> None:
    if source == "holistics":  # four runs on one sandbox would wait out the export quota
        sandbox.holistics.quota_window = 0  # (quotas have tests of their own)
    duck = Cli(tmp_path / "duck", sandbox.env())
    pg = Cli(tmp_path / "pg", {**sandbox.env(), "DESTINATION__POSTGRES__CREDENTIALS": pg_database})
    for cli in (duck, pg):
        cli.tmp.mkdir()

    for attempt in ("first", "incremental rerun"):
        to_duck = duck("run", source, "--summary-json", str(duck.tmp / "s.json"))
        to_pg = pg(
            "run", source, "--destination", "postgres", "--summary-json", str(pg.tmp / "s.json")
        )
        assert to_duck.code == 0, to_duck.output
        assert to_pg.code == 0, to_pg.output
        summaries = [
            json.loads((c.tmp / "s.json").read_text())["sources"][0]["tables"] for c in (duck, pg)
        ]
        assert summaries[0] == summaries[1], attempt
        in_duck, in_pg = duck_dump(duck.db, source), pg_dump(pg_database, source)
        assert in_duck, f"{source} loaded no tables"
        for history in HISTORY.get(source, ()):  # each run's own jobs: counted in summaries
            assert len(in_duck.pop(history)) == len(in_pg.pop(history)), history
        assert in_duck == in_pg, attempt


def test_filesystem_destination_writes_parquet_duckdb_reads(cli: Cli, sandbox: Sandbox) -> None:
    lake = cli.tmp / "lake"
    result = cli(
        "run",
        "kissmetrics",
        "--destination",
        "filesystem",
        extra_env={"DESTINATION__FILESYSTEM__BUCKET_URL": str(lake)},
    )
    assert result.code == 0, result.output
    for report, (table, columns) in TABLES.items():
        files = list((lake / "kissmetrics" / table).glob("*.parquet"))
        assert files, table
        with duckdb.connect() as con:
            rows = con.sql(
                f"SELECT {', '.join(columns)} FROM read_parquet('{lake}/kissmetrics/"
                f"{table}/*.parquet')"
            ).fetchall()
        assert sorted(rows, key=repr) == truth(sandbox, report)
