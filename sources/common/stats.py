"""Per-source run statistics that the HTTP layer feeds and the run summary reads.

dlt runs async resources on its own event loop thread, so counters live in a plain
registry keyed by source name rather than in a context variable."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sources.common.errors import AuthError, ConfigError, PipelineError


@dataclass
class SourceStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    quota_waits: int = 0
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def fail(self, line: str) -> None:
        """Record a failure of one part (a report, a widget) while the rest loads."""
        with self._lock:
            self.failures.append(line)

    def skip(self, line: str) -> None:
        """Record a part left out on purpose (a widget the key may not export), with the
        reason: shown in the run summary, not a failure."""
        with self._lock:
            self.skipped.append(line)


_registry: dict[str, SourceStats] = {}
_registry_lock = threading.Lock()


def stats_for(source: str) -> SourceStats:
    with _registry_lock:
        return _registry.setdefault(source, SourceStats())


def reset_stats(source: str) -> SourceStats:
    with _registry_lock:
        _registry[source] = SourceStats()
        return _registry[source]


def record_part_failure(
    source: str,
    error: BaseException,
    resource: str,
    *,
    what: str = "",
    endpoint: str | None = None,
    fatal: Callable[[PipelineError], bool] | None = None,
) -> None:
    """A part of a source failed (a report window, a widget, a KPI batch): record its
    one line so the run ends with exit 1, and let the other parts load.

    Failures that every other part would hit too — credentials, configuration, or what
    `fatal` says (a vendor's payment-required, say) — are raised instead: one line says
    it better than hundreds. `what` names the part in the line ("days 2026-05-01..05")."""
    if not isinstance(error, PipelineError):
        error = PipelineError(f"{type(error).__name__}: {error}", endpoint=endpoint)
    error.in_context(source=source, resource=resource)
    if isinstance(error, AuthError | ConfigError) or (fatal is not None and fatal(error)):
        raise error
    if what:
        error.cause = f"{what}: {error.cause}"
    stats_for(source).fail(error.line())
