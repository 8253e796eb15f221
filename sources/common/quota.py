"""Stay inside a vendor's request quota instead of provoking 429s.

Every response's `RateLimit-Remaining` / `RateLimit-Reset` headers update the gate; when
the requests already in flight would use up what remains, new requests wait for the
reset. One gate per client, shared by all its concurrent coroutines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from sources.common.retry import parse_rate_limit_reset

_SLACK = 0.05  # seconds past the announced reset, so we do not arrive a hair early


class QuotaGate:
    def __init__(self) -> None:
        self.remaining: int | None = None
        self.reset_at = 0.0
        self.in_flight = 0
        self.waits = 0

    async def acquire(self) -> None:
        while True:
            now = time.monotonic()
            if self.remaining is None or now >= self.reset_at:
                break
            if self.remaining - self.in_flight > 0:
                break
            self.waits += 1
            await asyncio.sleep(self.reset_at - now + _SLACK)
        if self.remaining is not None and time.monotonic() >= self.reset_at:
            self.remaining = None  # the window rolled over; the next response tells us more
        self.in_flight += 1

    def release(self, headers: Mapping[str, str] | None) -> None:
        self.in_flight -= 1
        if not headers:
            return
        remaining = headers.get("ratelimit-remaining")
        reset = parse_rate_limit_reset(headers.get("ratelimit-reset"))
        if remaining is None or reset is None:
            return
        try:
            self.remaining = int(float(remaining))
        except ValueError:
            return
        self.reset_at = time.monotonic() + reset
