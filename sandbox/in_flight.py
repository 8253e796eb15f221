"""How many requests the simulated hosts answer at once (the benchmarks read it)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator


class InFlight:
    """How many requests are answered at once: the peak, and the mean while any is."""

    def __init__(self) -> None:
        self._lock, self.now = threading.Lock(), 0
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests, self.peak, self.seconds, self.busy = self.now, self.now, 0.0, 0.0
            self._since = time.monotonic()

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        started = time.monotonic()
        with self._lock:
            self._since = self._since if self.now else started
            self.now, self.requests = self.now + 1, self.requests + 1
            self.peak = max(self.peak, self.now)
        try:
            yield
        finally:
            with self._lock:
                self.now -= 1
                self.seconds += time.monotonic() - started
                self.busy += 0.0 if self.now else time.monotonic() - self._since

    def summary(self) -> str:
        with self._lock:
            mean = self.seconds / self.busy if self.busy else 0.0
            counts = f"requests={self.requests} peak={self.peak} mean={mean:.2f}"
            return f"in_flight {counts} busy_seconds={self.busy:.3f}"
