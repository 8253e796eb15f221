"""The run summary: a table on stdout and, on request, JSON for orchestrators.

Nothing in it comes from configuration values, and every string passes redaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pipelines.results import SourceResult
from sources.common.redaction import redact


def as_json(results: Sequence[SourceResult], *, destination: str, exit_code: int) -> dict[str, Any]:
    return {
        "destination": destination,
        "exit_code": exit_code,
        "sources": [r.as_dict() for r in results],
    }


def write_json(path: str, payload: dict[str, Any]) -> None:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(redact(json.dumps(payload, indent=2, default=str)) + "\n")


def render(results: Sequence[SourceResult], *, destination: str) -> str:
    lines = [
        f"run summary (destination: {destination})",
        f"{'source':<12} {'status':<8} {'rows':>10} {'tables':>6} {'requests':>8} "
        f"{'retries':>7} {'seconds':>8}  load id",
    ]
    for r in results:
        lines.append(
            f"{r.source:<12} {r.status:<8} {r.rows:>10,} {len(r.tables):>6} "
            f"{r.requests:>8} {r.retries:>7} {r.duration_s:>8.1f}  {r.load_id or '-'}"
        )
        for table, rows in sorted(r.tables.items()):
            lines.append(f"    {table:<44} {rows:>10,}")
        for key in sorted(set(r.cursors_before) | set(r.cursors_after)):
            before = r.cursors_before.get(key, "-")
            after = r.cursors_after.get(key, "-")
            lines.append(f"    cursor {key}: {before} -> {after}")
        for error in r.errors:
            lines.append(f"    error: {error}")
        for skipped in r.skipped:
            lines.append(f"    skipped: {skipped}")
    return redact("\n".join(lines))
