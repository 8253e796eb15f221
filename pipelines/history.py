"""Run history: every run's summary is loaded as `_runs` into the source's dataset, so
analysts can ask the warehouse itself what is fresh; `status` reads it back."""

from __future__ import annotations

import json
import logging
from typing import Any

import dlt
import pendulum

from pipelines.results import SourceResult
from sources.common.redaction import redact

log = logging.getLogger("pipelines.history")
TABLE = "_runs"
JSON_COLUMNS = ("tables", "cursors_before", "cursors_after", "errors")


def row(result: SourceResult, destination: str) -> dict[str, Any]:
    data = result.as_dict()
    record = {
        "run_id": result.run_id,
        "source": result.source,
        "destination": destination,
        "status": result.status,
        "exit_code": result.exit_code,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "duration_s": result.duration_s,
        "rows": data["rows"],
        "load_id": result.load_id,
        "requests": result.requests,
        "retries": result.retries,
        "error": result.errors[0] if result.errors else None,
    }
    for column in JSON_COLUMNS:
        record[column] = json.loads(redact(json.dumps(data[column], default=str)))
    return record


def record(
    pipeline: dlt.Pipeline, result: SourceResult, destination: str, loader_file_format: str | None
) -> None:
    """Load the run's row; a failure here is logged, never fatal to the run."""
    resource = dlt.resource(
        [row(result, destination)],
        name=TABLE,
        write_disposition="merge",
        primary_key="run_id",
        columns={c: {"data_type": "json"} for c in JSON_COLUMNS}
        | {"started_at": {"data_type": "timestamp"}, "finished_at": {"data_type": "timestamp"}}
        | {"load_id": {"data_type": "text"}, "error": {"data_type": "text"}},
    )
    try:
        pipeline.run(resource, loader_file_format=loader_file_format)
    except Exception as exc:
        log.warning(
            "%s: could not record the run in %s: %s",
            result.source,
            TABLE,
            redact(" ".join(str(exc).split())[:300]),
        )


def latest(pipeline: dlt.Pipeline) -> dict[str, dict[str, Any] | None]:
    """The last successful and the last failed run of the pipeline's source."""
    found: dict[str, dict[str, Any] | None] = {"success": None, "failure": None}
    try:
        with pipeline.sql_client() as client:
            table = client.make_qualified_table_name(TABLE)
            columns = "status, started_at, rows, cursors_after, error"
            for key, condition in (("success", "status = 'ok'"), ("failure", "status <> 'ok'")):
                rows = client.execute_sql(
                    f"SELECT {columns} FROM {table} WHERE {condition} "
                    "ORDER BY started_at DESC LIMIT 1"
                )
                if rows:
                    status, started, count, cursors, error = rows[0]
                    if isinstance(cursors, str):
                        cursors = json.loads(cursors)
                    found[key] = {
                        "status": status,
                        "started_at": started,
                        "rows": count,
                        "cursors": cursors or {},
                        "error": error,
                    }
    except Exception as exc:  # no dataset or no table yet: never run
        log.debug("no run history: %s", exc)
    return found


def staleness(value: Any, now: pendulum.DateTime | None = None) -> str:
    """How far behind now a cursor value is, in words (`3 days behind`); '-' when it is not
    a time. A cursor ahead of now (a clock or time zone gone wrong) says so."""
    try:
        moment = pendulum.parse(str(value))
    except Exception:
        return "-"
    if not isinstance(moment, pendulum.DateTime):
        return "-"
    now = now or pendulum.now("UTC")
    return f"{moment.diff_for_humans(now, absolute=True)} {'ahead' if moment > now else 'behind'}"
