"""`python -m pipelines run|demo|check|sources` — the contract of INTERFACE.md.

Exit codes: 0 all named sources loaded; 1 a source failed (the others still ran and
committed); 2 usage or configuration error (nothing ran); 3 authentication or permission
error. One line per failure on stderr; a traceback only with --verbose."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
from collections.abc import Sequence

import duckdb
import pendulum
import pyarrow as pa

from pipelines import demo, destinations, history, project, runner
from pipelines.failures import classify
from pipelines.registry import SOURCES, names
from pipelines.results import Backfill
from pipelines.runner import build_sources, exit_code, make_pipeline
from pipelines.summary import as_json, render, write_json
from sources.common.errors import ConfigError
from sources.common.redaction import RedactingFilter, install_redaction

log = logging.getLogger("pipelines")


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--project-dir",
        help="project root holding .dlt/ and destinations.toml "
        "(default: $DLT_PROJECT_DIR, else this checkout)",
    )
    common.add_argument("-v", "--verbose", action="store_true", help="debug logging and tracebacks")

    parser = argparse.ArgumentParser(
        prog="python -m pipelines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", parents=[common], help="load sources into a destination")
    run.add_argument(
        "sources", nargs="*", metavar="SOURCE", help=f"one of {', '.join(names())} (default: all)"
    )
    run.add_argument(
        "--destination", default=None, help="a name from destinations.toml (default: duckdb)"
    )
    run.add_argument("--start", help="backfill from this ISO date/datetime")
    run.add_argument("--end", help="backfill up to this ISO date/datetime (exclusive)")
    run.add_argument(
        "--full-refresh", action="store_true", help="drop the sources' tables and state first"
    )
    run.add_argument("--summary-json", metavar="PATH", help="also write the summary as JSON")

    show = commands.add_parser(
        "demo",
        parents=[common],
        help="run every source against the local sandbox into data/demo.duckdb",
    )
    show.add_argument("--rows", type=int, default=30_000, help="rows per vendor dataset")

    check = commands.add_parser(
        "check", parents=[common], help="validate config and credentials, load nothing"
    )
    check.add_argument("sources", nargs="*", metavar="SOURCE")

    commands.add_parser(
        "sources", parents=[common], help="list sources, resources, dispositions, keys and cursors"
    )

    discover = commands.add_parser(
        "discover",
        parents=[common],
        help="list what the vendor account offers to load, with the config snippet",
    )
    discover.add_argument("source", metavar="SOURCE", help=f"one of {', '.join(names())}")

    status = commands.add_parser(
        "status", parents=[common], help="last success and failure per source, cursor staleness"
    )
    status.add_argument("--destination", default=None)

    sql = commands.add_parser("sql", parents=[common], help="run a query, print a table")
    sql.add_argument("query", help='e.g. "SELECT count(*) FROM kissmetrics.reports"')
    sql.add_argument("--destination", default=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        exposure = project.secrets_exposure(project.enter_project(args.project_dir))
        if exposure:
            print(f"warning: {exposure}", file=sys.stderr, flush=True)
        return COMMANDS[args.command](args)
    except ConfigError as exc:
        _fail(exc.line(), args.verbose)
        return exc.exit_code
    except KeyboardInterrupt:
        _fail("interrupted", False)
        return 130


def cmd_run(args: argparse.Namespace) -> int:
    chosen = _choose(args.sources)
    backfill = Backfill(_iso(args.start, "--start"), _iso(args.end, "--end"))
    if (
        backfill.start
        and backfill.end
        and pendulum.parse(backfill.end) <= pendulum.parse(backfill.start)
    ):
        raise ConfigError(f"--end {args.end} is not after --start {args.start}")
    destination = destinations.resolve(args.destination)
    return run_sources(
        chosen,
        destination,
        backfill,
        full_refresh=args.full_refresh,
        summary_json=args.summary_json,
        verbose=args.verbose,
    )


def run_sources(
    chosen: list[str],
    destination: destinations.NamedDestination,
    backfill: Backfill,
    *,
    full_refresh: bool,
    summary_json: str | None,
    verbose: bool,
) -> int:
    built = {}
    for name in chosen:  # one at a time, so a failure is classified under its source's name
        try:
            built.update(build_sources([name], backfill))
        except Exception as exc:
            code, line = classify(exc, name)
            _fail(line, verbose, exc)
            return code if code in (2, 3) else 2
    _tune_gc()
    results = runner.run_built(built, destination, full_refresh=full_refresh)
    code = exit_code(results)
    for result in results:
        for line in result.errors:
            _fail(line, False)
    print(render(results, destination=destination.name))
    if summary_json:
        write_json(summary_json, as_json(results, destination=destination.name, exit_code=code))
    return code


def _tune_gc() -> None:
    """Vendor pages become millions of short-lived lists before they are Arrow columns.
    With the default thresholds the collector runs every 700 allocations, and its older
    generations walk every imported module and dlt schema: that was ~60% of the time to
    turn 1M JSON rows into columns here. What is loaded by now lives for the whole run, so
    it is frozen out of collection, and the young generation is collected less often."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def cmd_check(args: argparse.Namespace) -> int:
    worst = 0
    for name in _choose(args.sources):
        try:
            message = SOURCES[name].check()
            print(f"{name}: ok, {message}")
        except Exception as exc:
            code, line = classify(exc, name)
            _fail(line, args.verbose, exc)
            worst = max(worst, code)
    return worst


def cmd_sources(args: argparse.Namespace) -> int:
    for name in names():
        entry = SOURCES[name]
        source = entry.factory(**entry.placeholders)
        print(name)
        # an unselected resource that only feeds transformers has no table of its own
        feeders = {r._pipe.parent.name for r in source.resources.values() if r._pipe.has_parent}
        for resource in source.resources.values():
            if resource.name in feeders and not resource.selected:
                continue
            hints = resource.compute_table_schema()
            keys = [c for c, v in hints.get("columns", {}).items() if v.get("primary_key")]
            merge = [c for c, v in hints.get("columns", {}).items() if v.get("merge_key")]
            disposition = hints.get("write_disposition")
            if isinstance(disposition, dict):  # {"disposition": "merge", "strategy": …}
                disposition = disposition.get("disposition")
            line = f"  {resource.name:<20} {disposition:<8}"
            line += f" primary key: {', '.join(keys) or '-'}"
            if merge:
                line += f"; merge key: {', '.join(merge)}"
            if not resource.selected:
                line += " (opt-in: off until its setting is set)"
            print(line)
            if resource.name in entry.cursors:
                print(f"  {'':<20} cursor: {entry.cursors[resource.name]}")
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    [name] = _choose([args.source])
    try:
        found = SOURCES[name].discover()
    except Exception as exc:
        code, line = classify(exc, name)
        _fail(line, args.verbose, exc)
        return code
    for listing in found.listings:
        print(f"\n{listing.title}")
        texts = [[None if v is None else str(v) for v in row] for row in listing.rows]
        columns = [
            pa.array([row[i] for row in texts], pa.string()) for i in range(len(listing.columns))
        ]
        _show(pa.Table.from_arrays(columns, names=list(listing.columns)))
    print(f"\n# add to .dlt/config.toml\n[sources.{name}]\n{found.snippet}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    with demo.sandboxed(args.rows) as destination:
        code = run_sources(
            names(),
            destination,
            Backfill(),
            full_refresh=False,
            summary_json=None,
            verbose=args.verbose,
        )
    demo.show_samples()
    return code


def cmd_status(args: argparse.Namespace) -> int:
    destination = destinations.resolve(args.destination)
    now = pendulum.now("UTC")
    print(f"{'source':<12} {'last success':<26} {'rows':>10}  {'last failure':<26} cursors")
    for name in names():
        runs = history.latest(make_pipeline(name, destination))
        ok, bad = runs["success"], runs["failure"]
        line = f"{name:<12} {_when(ok):<26} {ok['rows'] if ok else 0:>10,}  {_when(bad):<26}"
        cursors = (ok or {}).get("cursors") or {}
        print(line + (" -" if not cursors else ""))
        for key, value in sorted(cursors.items()):
            print(f"    {key}: {value} ({history.staleness(value, now)})")
        if bad and bad.get("error"):
            print(f"    last error: {bad['error']}")
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    destination = destinations.resolve(args.destination)
    pipeline = make_pipeline(names()[0], destination)
    try:
        with pipeline.sql_client() as client, client.execute_query(args.query) as cursor:
            result = cursor.arrow() if cursor.description else None
    except Exception as exc:
        _fail(f"sql: {' '.join(str(exc).split())[:300]}", args.verbose, exc)
        return 2
    if result is None:
        print("(no result set)")
    else:
        _show(result)
    return 0


def _show(table: pa.Table) -> None:
    """DuckDB's rendering of a table, every row and every value whole (`show` abbreviates
    long values, wide tables and more than 40 rows by default)."""
    whole = {"max_width": 1 << 20, "max_col_width": 1 << 20}
    duckdb.from_arrow(table).show(max_rows=max(table.num_rows, 1), **whole)


COMMANDS = {
    "run": cmd_run,
    "check": cmd_check,
    "sources": cmd_sources,
    "demo": cmd_demo,
    "discover": cmd_discover,
    "status": cmd_status,
    "sql": cmd_sql,
}


def _when(run: dict | None) -> str:
    return str(run["started_at"])[:19].replace("T", " ") if run else "-"


def _choose(requested: Sequence[str]) -> list[str]:
    unknown = [s for s in requested if s not in SOURCES]
    if unknown:
        raise ConfigError(f"unknown source(s) {', '.join(unknown)}; known: {', '.join(names())}")
    return list(dict.fromkeys(requested)) or names()


def _iso(value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    try:
        parsed = pendulum.parse(value)
    except Exception:
        parsed = None
    if parsed is None or not isinstance(parsed, pendulum.Date):
        raise ConfigError(f"{flag} {value!r} is not an ISO date or datetime (e.g. 2026-01-31)")
    return value


def _fail(line: str, verbose: bool, exc: BaseException | None = None) -> None:
    print(f"error: {line}", file=sys.stderr, flush=True)
    if verbose and exc is not None:
        log.exception("traceback", exc_info=exc)


def _configure_logging(verbose: bool) -> None:
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "DEBUG" if verbose else "WARNING")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    for noisy in ("httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    logging.getLogger("dlt").addFilter(RedactingFilter())
    logging.getLogger("asyncio").addFilter(_drop_asyncgen_close_noise)
    install_redaction()


def _drop_asyncgen_close_noise(record: logging.LogRecord) -> bool:
    """When an extract fails, dlt stops its event loop with the source's async generators
    still suspended, and asyncio logs a traceback for each it cannot close ("aclose():
    asynchronous generator is already running"). The failure itself is already one
    `error:` line; these tracebacks only bury it. Kept with --verbose (asyncio's DEBUG)."""
    if record.getMessage().startswith("an error occurred during closing of asynchronous"):
        return logging.getLogger().isEnabledFor(logging.DEBUG)
    return True
