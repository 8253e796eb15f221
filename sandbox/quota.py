"""Request quotas of the simulated hosts: a count per window, per bucket, and the
`RateLimit-*` headers that tell a client where it stands.

A host has one bucket for its `Faults.quota_limit`; a vendor whose limits are per
endpoint (Holistics) keeps a bucket per route in the same `Quota`."""

from __future__ import annotations

import math
import time


class Quota:
    """Buckets of (window start, requests used); callers hold the host's lock."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, int]] = {}

    def open(self, bucket: str) -> None:
        """Start a bucket's first window now, before any request (a host's quota)."""
        self._buckets[bucket] = (time.monotonic(), 0)

    def take(
        self, bucket: str, limit: int, window: float, reset_format: str, spent: int = 0
    ) -> tuple[dict[str, str], bool]:
        """Count one request: the headers to send, and whether the quota was exceeded.

        A bucket not opened starts its first window at its first request, with `spent`
        requests already used (by another client of the same user)."""
        now = time.monotonic()
        started, used = self._buckets.get(bucket, (now, spent))
        if now - started >= window:
            started, used = now, 0
        exceeded = used >= limit
        if not exceeded:
            used += 1
        self._buckets[bucket] = (started, used)
        reset = reset_value(max(1, math.ceil(started + window - now)), reset_format)
        headers = {
            "RateLimit-Limit": str(limit),
            "RateLimit-Remaining": str(max(0, limit - used)),
            "RateLimit-Reset": str(reset),
        }
        return headers, exceeded


def reset_value(seconds: float, form: str) -> str:
    """A wait of `seconds` spelled as a reset header in the dialect `form`."""
    if form == "unix":
        return str(math.ceil(time.time() + seconds))
    if form == "unix_ms":
        return str(math.ceil((time.time() + seconds) * 1000))
    if form == "seconds":
        return str(seconds)
    raise ValueError(f"reset_format {form!r}: want seconds, unix or unix_ms")
