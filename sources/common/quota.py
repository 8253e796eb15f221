"""Stay inside a vendor's request quota instead of provoking 429s.

Every response's `RateLimit-Remaining` / `RateLimit-Reset` headers update the gate. While
the quota is fresh, a request goes out only if what remains exceeds what is already in
flight; otherwise it waits for the reset. While the quota is unknown (the first request,
or the window has rolled over) one request goes out alone as a probe and the rest wait
for its headers. A vendor that sends no RateLimit headers is not gated at all.
One gate per client, shared by all its concurrent coroutines."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

from sources.common.retry import parse_rate_limit_reset

_SLACK = 0.05  # seconds past the announced reset, so we do not arrive a hair early
_PROBE_WAIT = 0.01  # how often waiting requests look whether the probe has answered


class QuotaGate:
    def __init__(self) -> None:
        self.reported: bool | None = None  # does the vendor send RateLimit headers?
        self.remaining = 0
        self.reset_at = 0.0
        self.in_flight = 0
        self.waits = 0

    async def acquire(self) -> None:
        waited = False
        while True:
            now = time.monotonic()
            if self.reported is False:
                break
            fresh = self.reported and now < self.reset_at
            if fresh and self.remaining - self.in_flight > 0:
                break
            if not fresh and self.in_flight == 0:
                break  # the probe
            waited = True
            pause = self.reset_at - now + _SLACK if fresh else _PROBE_WAIT
            await asyncio.sleep(max(pause, _PROBE_WAIT))
        self.waits += waited
        self.in_flight += 1

    def release(self, headers: Mapping[str, str] | None) -> None:
        self.in_flight -= 1
        if headers is None:
            return  # the request failed in transit: nothing learnt
        remaining = headers.get("ratelimit-remaining")
        reset = parse_rate_limit_reset(headers.get("ratelimit-reset"))
        if remaining is None or reset is None:
            if self.reported is None:
                self.reported = False
            return
        try:
            self.remaining = int(float(remaining))
        except ValueError:
            return
        self.reported = True
        self.reset_at = time.monotonic() + reset
