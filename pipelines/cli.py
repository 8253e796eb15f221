"""`python -m pipelines run|demo|check|sources` — the contract of INTERFACE.md.

Exit codes: 0 all named sources loaded; 1 a source failed (the others still ran and
committed); 2 usage or configuration error (nothing ran); 3 authentication or permission
error. One line per failure on stderr; a traceback only with --verbose."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

import pendulum

from pipelines import destinations, project
from pipelines.failures import classify
from pipelines.registry import SOURCES, names
from pipelines.runner import Backfill, build_sources, exit_code, run_source
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

    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="run every source against the local sandbox into data/demo.duckdb",
    )
    demo.add_argument("--rows", type=int, default=30_000, help="rows per vendor dataset")

    check = commands.add_parser(
        "check", parents=[common], help="validate config and credentials, load nothing"
    )
    check.add_argument("sources", nargs="*", metavar="SOURCE")

    commands.add_parser(
        "sources", parents=[common], help="list sources, resources, dispositions, keys and cursors"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    _configure_logging(args.verbose)
    try:
        project.enter_project(args.project_dir)
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
    try:
        built = build_sources(chosen, backfill)
    except Exception as exc:
        code, line = classify(exc)
        _fail(line, verbose, exc)
        return code if code in (2, 3) else 2
    results = [
        run_source(SOURCES[name], built[name], destination, full_refresh=full_refresh)
        for name in chosen
    ]
    code = exit_code(results)
    for result in results:
        for line in result.errors:
            _fail(line, False)
    print(render(results, destination=destination.name))
    if summary_json:
        write_json(summary_json, as_json(results, destination=destination.name, exit_code=code))
    return code


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
        for resource in source.resources.values():
            hints = resource.compute_table_schema()
            keys = [c for c, v in hints.get("columns", {}).items() if v.get("primary_key")]
            merge = [c for c, v in hints.get("columns", {}).items() if v.get("merge_key")]
            line = f"  {resource.name:<20} {resource.write_disposition:<8}"
            line += f" primary key: {', '.join(keys) or '-'}"
            if merge:
                line += f"; merge key: {', '.join(merge)}"
            print(line)
            if resource.name in entry.cursors:
                print(f"  {'':<20} cursor: {entry.cursors[resource.name]}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from pipelines.demo import run_demo

    return run_demo(rows=args.rows, verbose=args.verbose)


COMMANDS = {"run": cmd_run, "check": cmd_check, "sources": cmd_sources, "demo": cmd_demo}


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
    install_redaction()
