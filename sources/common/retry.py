"""Which failures deserve another try, and how long to wait before it.

Retries use tenacity; this module only supplies the vendor-facing rules: retry 429, 5xx
and transport errors, honour `Retry-After` (seconds or an HTTP date) and, failing that,
back off exponentially with jitter."""

from __future__ import annotations

import email.utils
import time

import httpx
from tenacity import RetryCallState
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_exponential_jitter

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


class RetryableStatus(Exception):
    """A response whose status says: try again later."""

    def __init__(self, status: int, endpoint: str, retry_after: float | None, detail: str) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.endpoint = endpoint
        self.retry_after = retry_after
        self.detail = detail


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def parse_rate_limit_reset(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds until the quota window resets, from `RateLimit-Reset`.

    The IETF draft sends delta seconds; some services send a Unix timestamp instead,
    recognisable because it is far larger than any sane window."""
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    if number > 1_000_000_000:
        current = time.time() if now is None else now
        return max(0.0, number - current)
    return max(0.0, number)


def is_retryable(exc: BaseException) -> bool:
    return isinstance(exc, (RetryableStatus, *TRANSIENT_ERRORS))


class wait_retry_after(wait_base):
    """The server's `Retry-After` when it gave one, exponential backoff with jitter otherwise."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.fallback = wait_exponential_jitter(initial=initial, max=maximum, jitter=initial)

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return retry_after
        return self.fallback(retry_state)


class stop_on_long_retry_after(stop_base):
    """Give up rather than sleep through a `Retry-After` longer than we are willing to wait."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        return retry_after is not None and retry_after > self.limit
