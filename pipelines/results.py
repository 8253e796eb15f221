"""What one source's run produced: the unit of the run summary and of `_runs`."""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

STATUS_OK, STATUS_PARTIAL, STATUS_FAILED = "ok", "partial", "failed"


@dataclass
class SourceResult:
    source: str
    status: str = STATUS_OK
    exit_code: int = 0
    tables: dict[str, int] = field(default_factory=dict)
    load_id: str | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float = 0.0
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    cursors_before: dict[str, Any] = field(default_factory=dict)
    cursors_after: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def fail(self, code: int, line: str) -> None:
        self.status, self.exit_code = STATUS_FAILED, code
        self.errors.append(line)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rows": self.rows}

    def raise_for_status(self) -> None:
        """`RunFailed` unless every part loaded: how orchestrators see a partial run."""
        if self.status == STATUS_OK:
            return
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        line = (self.errors[0] if self.errors else f"{self.source}: {self.status}") + more
        raise RunFailed(line, self)


class RunFailed(Exception):
    """A source's run failed, in full or in part; what loaded is committed. Its message
    is the run's first error line, already redacted and naming source and endpoint."""

    def __init__(self, line: str, result: SourceResult) -> None:
        super().__init__(line)
        self.result = result
        self.exit_code = result.exit_code


@dataclass(frozen=True)
class Backfill:
    start: str | None = None
    end: str | None = None

    def kwargs(self) -> dict[str, str]:
        return {k: v for k, v in (("backfill_start", self.start), ("backfill_end", self.end)) if v}
