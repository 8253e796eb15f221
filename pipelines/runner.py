"""Build and run one dlt pipeline per source into a named destination: the one way a
source runs, for the CLI, the demo, Dagster and Airflow alike.

A source's configuration is resolved when the source is built, so every named source is
built before any runs: a configuration error stops the whole command (exit 2) with
nothing loaded. Then each source runs on its own, under a lock, and a failure is
recorded while the next source still runs. Every run, good or bad, lands in `_runs`.

A part that fails (a widget, a report window) does not stop the others: dlt commits
what loaded, and the result says `partial`. Orchestrators call `run_one`, which raises
`RunFailed` after that commit, so the task or materialisation fails with the one line
while the good parts stay loaded."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import dlt
import pendulum
from dlt.extract.source import DltSource

from pipelines import history
from pipelines.destinations import NamedDestination
from pipelines.failures import classify
from pipelines.lock import run_lock
from pipelines.registry import SOURCES
from pipelines.results import STATUS_OK, STATUS_PARTIAL, Backfill, SourceResult
from sources.common.config import Declaration
from sources.common.errors import ConfigError, config_key_help
from sources.common.stats import reset_stats

log = logging.getLogger("pipelines")


def run_built(
    built: dict[str, DltSource], destination: NamedDestination, *, full_refresh: bool = False
) -> list[SourceResult]:
    """Run sources already built (`build_sources`) in turn; one failing does not stop
    the next."""
    wait = lock_wait()
    return [
        run_source(SOURCES[name], source, destination, full_refresh=full_refresh, lock_wait=wait)
        for name, source in built.items()
    ]


def run_one(
    name: str,
    destination: NamedDestination,
    backfill: Backfill | None = None,
    *,
    full_refresh: bool = False,
) -> SourceResult:
    """Run one source for an orchestrator: the result when everything loaded, else
    `RunFailed` (after the good parts committed) with the run's one-line error."""
    built = build_sources([name], backfill or Backfill())  # a config error raises as it is
    result = run_built(built, destination, full_refresh=full_refresh)[0]
    result.raise_for_status()
    return result


def lock_wait() -> float:
    """`[pipelines] lock_wait`: seconds a run waits for another run of the same source."""
    value = dlt.config.get("pipelines.lock_wait")
    try:
        return float(value or 0)
    except (TypeError, ValueError):
        raise ConfigError(
            f"pipelines.lock_wait = {value!r} is not a number of seconds",
            hint="set lock_wait in [pipelines] of .dlt/config.toml or PIPELINES__LOCK_WAIT",
        ) from None


def build_sources(names: Iterable[str], backfill: Backfill) -> dict[str, DltSource]:
    """Resolve every source's configuration; the first error aborts (raised as is)."""
    built = {}
    for name in names:
        schema_contract(name)  # validated up front, with the rest of the configuration
        built[name] = SOURCES[name].factory(**backfill.kwargs())
    return built


def make_pipeline(name: str, destination: NamedDestination) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"{name}__{destination.name}",
        destination=destination.make(),
        dataset_name=name,
        progress=_progress(),
    )


def run_source(
    entry: Declaration,
    source: DltSource,
    destination: NamedDestination,
    *,
    full_refresh: bool,
    lock_wait: float = 0.0,
) -> SourceResult:
    result = SourceResult(entry.name, started_at=pendulum.now("UTC").to_iso8601_string())
    stats = reset_stats(entry.name)
    started = time.monotonic()
    log.info("%s: extracting into %s", entry.name, destination.name)
    pipeline = None
    try:
        pipeline = make_pipeline(entry.name, destination)
        lock = Path(pipeline.pipelines_dir) / f"{pipeline.pipeline_name}.lock"
        with run_lock(lock, wait=lock_wait, what=f"{entry.name} into {destination.name}"):
            _run_locked(pipeline, source, destination, result, full_refresh=full_refresh)
            _finish(result, stats, started)
            history.record(pipeline, result, destination.name, destination.loader_file_format)
    except Exception as exc:
        result.fail(*classify(exc, entry.name))
        log.debug("%s failed", entry.name, exc_info=True)
        _finish(result, stats, started)
    log.info(
        "%s: %s, %d rows in %d tables, %.1f s",
        entry.name,
        result.status,
        result.rows,
        len(result.tables),
        result.duration_s,
    )
    return result


def _run_locked(
    pipeline: dlt.Pipeline,
    source: DltSource,
    destination: NamedDestination,
    result: SourceResult,
    *,
    full_refresh: bool,
) -> None:
    _settle_pending(pipeline, result.source)
    result.cursors_before = result.cursors_after = _cursors(pipeline, result.source)
    try:
        info = pipeline.run(
            source,
            loader_file_format=destination.loader_file_format,
            refresh="drop_sources" if full_refresh else None,
            schema_contract=schema_contract(result.source),
        )
    except Exception as exc:
        result.fail(*classify(exc, result.source))
        return
    result.load_id = info.loads_ids[-1] if info.loads_ids else None
    result.tables = _row_counts(pipeline)
    result.cursors_after = _cursors(pipeline, result.source)


CONTRACTS = ("evolve", "freeze", "discard_row", "discard_value")


def schema_contract(source: str) -> dict[str, str]:
    """`[sources.<source>] schema_contract`: how new columns and changed types are treated.

    New tables always evolve: every report, widget and builder table is a table of its
    own, so freezing tables would refuse the very first load of each."""
    value = dlt.config.get(f"sources.{source}.schema_contract") or "evolve"
    if value not in CONTRACTS:
        raise ConfigError(
            f"schema_contract = {value!r} is not one of {', '.join(CONTRACTS)}",
            source=source,
            hint=config_key_help(source, "schema_contract"),
        )
    return {"tables": "evolve", "columns": str(value), "data_type": str(value)}


def _row_counts(pipeline: dlt.Pipeline) -> dict[str, int]:
    """Rows per table of the last run: extract counts, exact for dicts and Arrow alike;
    normalize counts only for child tables, which exist from normalisation on."""
    trace = pipeline.last_trace
    if trace is None:
        return {}
    counts = dict(trace.last_normalize_info.row_counts) if trace.last_normalize_info else {}
    if trace.last_extract_info:
        for metrics in trace.last_extract_info.metrics.values():
            for step in metrics:
                for table, table_metrics in step["table_metrics"].items():
                    counts[table] = table_metrics.items_count
    return {t: n for t, n in counts.items() if not t.startswith("_dlt")}


def _settle_pending(pipeline: dlt.Pipeline, source: str) -> None:
    """Finish what an interrupted run left behind, or drop it.

    dlt's `run()` loads pending packages *instead of* new data, so one package that can
    never load (a broken schema contract, say) would stall every later run. Every table
    is merged and state travels in the package, so a dropped package's data is simply
    fetched again by this run."""
    if not pipeline.has_pending_data:
        return
    log.warning("%s: a previous run left unfinished load packages; loading them first", source)
    try:
        pipeline.normalize()
        pipeline.load()
    except Exception as exc:
        _, line = classify(exc, source)
        log.warning(
            "%s: they cannot be loaded (%s); dropping them, this run fetches their data again",
            source,
            line,
        )
        pipeline.drop_pending_packages()


def _finish(result: SourceResult, stats: Any, started: float) -> None:
    for line in stats.failures:
        if line not in result.errors:
            result.errors.append(line)
    if stats.failures and result.status == STATUS_OK:
        result.status, result.exit_code = STATUS_PARTIAL, 1
    result.skipped = list(stats.skipped)
    result.finished_at = pendulum.now("UTC").to_iso8601_string()
    result.duration_s = round(time.monotonic() - started, 3)
    result.requests, result.retries = stats.requests, stats.retries
    result.rate_limited = stats.rate_limited


def exit_code(results: Iterable[SourceResult]) -> int:
    """3 when any source was refused access, else 2 (config), else 1 when any failed."""
    codes = {r.exit_code for r in results}
    for code in (3, 2, 1):
        if code in codes:
            return code
    return 0


def _cursors(pipeline: dlt.Pipeline, source: str) -> dict[str, Any]:
    """The source's incremental positions: `cursors` maps and dlt incremental `last_value`s."""
    state = pipeline.state.get("sources", {}).get(source, {})
    found: dict[str, Any] = {}

    def walk(node: Any, path: list[str]) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            if key == "cursors" and isinstance(value, dict):
                for name, position in value.items():
                    found[".".join([*path, name])] = position
            elif key == "last_value":
                found[".".join(path)] = value
            else:
                walk(value, [*path, key] if key not in ("resources", "incremental") else path)

    walk(state, [])
    return found


def _progress() -> Any:
    """dlt's progress bars on a terminal, periodic log lines otherwise (cron, CI)."""
    if sys.stderr.isatty():
        return dlt.progress.tqdm(colour="green")
    return dlt.progress.log(
        log_period=10,
        logger=logging.getLogger("pipelines.progress"),
        log_level=logging.INFO,
        dump_system_stats=False,
    )
