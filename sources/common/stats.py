"""Per-source run statistics that the HTTP layer feeds and the run summary reads.

dlt runs async resources on its own event loop thread, so counters live in a plain
registry keyed by source name rather than in a context variable."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class SourceStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    quota_waits: int = 0
    failures: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def fail(self, line: str) -> None:
        """Record a failure of one part (a report, a widget) while the rest loads."""
        with self._lock:
            self.failures.append(line)


_registry: dict[str, SourceStats] = {}
_registry_lock = threading.Lock()


def stats_for(source: str) -> SourceStats:
    with _registry_lock:
        return _registry.setdefault(source, SourceStats())


def reset_stats(source: str) -> SourceStats:
    with _registry_lock:
        _registry[source] = SourceStats()
        return _registry[source]
