"""Build and run one dlt pipeline per source into a named destination.

A source's configuration is resolved when the source is built, so every named source is
built before any runs: a configuration error stops the whole command (exit 2) with
nothing loaded. Then each source runs on its own; a failure is recorded and the next
source still runs."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import dlt
from dlt.extract.source import DltSource

from pipelines.destinations import NamedDestination
from pipelines.failures import classify
from pipelines.registry import SOURCES, SourceEntry
from sources.common.stats import reset_stats

log = logging.getLogger("pipelines")

STATUS_OK, STATUS_PARTIAL, STATUS_FAILED = "ok", "partial", "failed"


@dataclass
class SourceResult:
    source: str
    status: str = STATUS_OK
    exit_code: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    load_id: str | None = None
    duration_s: float = 0.0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    cursors_before: dict[str, Any] = field(default_factory=dict)
    cursors_after: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows": self.rows}


@dataclass(frozen=True)
class Backfill:
    start: str | None = None
    end: str | None = None

    def kwargs(self) -> dict[str, str]:
        return {k: v for k, v in (("backfill_start", self.start), ("backfill_end", self.end)) if v}


def build_sources(names: Iterable[str], backfill: Backfill) -> dict[str, DltSource]:
    """Resolve every source's configuration; the first error aborts (raised as is)."""
    return {name: SOURCES[name].factory(**backfill.kwargs()) for name in names}


def make_pipeline(name: str, destination: NamedDestination) -> dlt.Pipeline:
    return dlt.pipeline(
        pipeline_name=f"{name}__{destination.name}",
        destination=destination.make(),
        dataset_name=name,
        progress=_progress(),
    )


def run_source(
    entry: SourceEntry, source: DltSource, destination: NamedDestination, *, full_refresh: bool
) -> SourceResult:
    result = SourceResult(entry.name)
    stats = reset_stats(entry.name)
    started = time.monotonic()
    log.info("%s: extracting into %s", entry.name, destination.name)
    try:
        pipeline = make_pipeline(entry.name, destination)
        result.cursors_before = result.cursors_after = _cursors(pipeline, entry.name)
        info = pipeline.run(
            source,
            loader_file_format=destination.loader_file_format,
            refresh="drop_sources" if full_refresh else None,
        )
        result.load_id = info.loads_ids[-1] if info.loads_ids else None
        normalize = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
        counts = normalize.row_counts if normalize else {}
        result.tables = {t: n for t, n in counts.items() if not t.startswith("_dlt")}
        result.cursors_after = _cursors(pipeline, entry.name)
    except Exception as exc:
        code, line = classify(exc, entry.name)
        result.status, result.exit_code = STATUS_FAILED, code
        result.errors.append(line)
        log.debug("%s failed", entry.name, exc_info=True)
    result.errors.extend(stats.failures)
    if stats.failures and result.status == STATUS_OK:
        result.status, result.exit_code = STATUS_PARTIAL, 1
    result.duration_s = round(time.monotonic() - started, 3)
    result.requests, result.retries = stats.requests, stats.retries
    result.rate_limited = stats.rate_limited
    log.info(
        "%s: %s, %d rows in %d tables, %.1f s",
        entry.name,
        result.status,
        result.rows,
        len(result.tables),
        result.duration_s,
    )
    return result


def exit_code(results: Iterable[SourceResult]) -> int:
    """3 when any source was refused access, else 1 when any failed, else 0."""
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
