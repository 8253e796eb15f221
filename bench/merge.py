"""Incremental merge cost: the realistic CSV widget (incremental on its date filter,
primary key `Order ID`) rerun with a 1-day lookback, merging the same window into a
table of `small` rows and into one of `large` rows.

The pipeline loads `small` rows; a copy of its state and DuckDB file is then inflated
to `large` rows with DuckDB SQL (copies of those rows under new keys, dated before the
lookback window, dlt's columns kept): seconds, where loading 10M rows through the
pipeline would take minutes. The large rerun goes first: it alone waits for the
simulator to compute the lookback window (~0.1 s per 10,000 rows), so the ratio errs
high, never low. The SQL runs in a child: `python -m bench.merge DATABASE TABLE GROW_TO`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from bench.cases import CASES, CSV_DATE, CSV_KEY
from bench.harness import PY, Runner, Sandbox, log, measured, merged, pick


def merge(small: int, large: int, work: Path) -> dict[str, Any]:
    case = CASES["holistics"]
    table = f"{case.source}.{case.table}"
    with Sandbox(*case.sandbox(small)) as sandbox:
        env = merged(sandbox.env, case.env())
        log(f"merge: loading {small:,} rows")
        loaded = Runner(work, f"merge_{small}")
        loaded.run(case.source, env)
        runners = {small: loaded, large: loaded.copy(f"merge_{large}")}
        log(f"merge: inflating a copy to {large:,} rows")
        table_rows(runners[large].database, table, grow_to=large)
        reruns = {}
        for size in (large, small):  # the first pays the simulator's window: the large one
            runner = runners[size]
            log(f"merge: 1-day lookback rerun into {size:,} rows")
            rerun = pick(runner.run(case.source, env), case.table)
            # a merge replaces the window's rows: the table keeps its size
            reruns[size] = {"table_rows": size, "rows_after": table_rows(runner.database, table)}
            reruns[size].update(rerun)
    return {
        "small": reruns[small],
        "large": reruns[large],
        "ratio": reruns[large]["wall"] / reruns[small]["wall"],
    }


def table_rows(database: Path, table: str, grow_to: int = 0) -> int:
    """The table's row count, after growing it to `grow_to` rows. In a child process:
    a child's peak RSS (os.wait4) starts at its parent's, so the harness stays small."""
    cmd = [PY, "-m", "bench.merge", str(database), table, str(grow_to)]
    done = measured(cmd, {})
    if done["code"]:
        raise RuntimeError(f"{' '.join(cmd[1:])} exited {done['code']}")
    return int(done["out"].split()[-1])


def inflate(database: Path, table: str, rows: int) -> None:
    """Grow `table` to `rows` rows with copies of its own: copy c shifts every key by
    c × max(key) and every date back by c × the span of dates, so keys stay distinct
    and the copies lie before the rows the pipeline loaded (and its lookback window).
    dlt's columns are copied; a `_dlt_id` (not added to Arrow tables here) stays unique."""
    import duckdb

    with duckdb.connect(str(database)) as con:
        con.execute("SET preserve_insertion_order = false")
        have, top, span = con.execute(
            f"SELECT count(*), max({CSV_KEY}), max({CSV_DATE}) - min({CSV_DATE}) + 1 FROM {table}"
        ).fetchone()
        columns = {name for name, *_ in con.execute(f"DESCRIBE {table}").fetchall()}
        shifted = [
            f"{CSV_KEY} + c * {top} AS {CSV_KEY}",
            f"{CSV_DATE} - CAST(c * {span} AS INTEGER) AS {CSV_DATE}",
            *(["_dlt_id || '-' || c AS _dlt_id"] if "_dlt_id" in columns else []),
        ]
        copies = -(-(rows - have) // have)
        con.execute(
            f"INSERT INTO {table} SELECT t.* REPLACE ({', '.join(shifted)}) "
            f"FROM {table} AS t, range(1, {copies + 1}) AS copies(c) LIMIT {rows - have}"
        )


def main(database: str, table: str, grow_to: str) -> None:
    import duckdb

    if int(grow_to):
        inflate(Path(database), table, int(grow_to))
    with duckdb.connect(database, read_only=True) as con:
        print(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


if __name__ == "__main__":
    main(*sys.argv[1:])
