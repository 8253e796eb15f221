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
    """Seconds to wait from a `Retry-After` value: delta-seconds, an HTTP date, or (as
    Holistics documents both headers as `next_reset_time`) a Unix time."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return seconds_until(float(value), now=now)
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
    """Seconds until the quota window resets, from `RateLimit-Reset`."""
    if value is None:
        return None
    try:
        return seconds_until(float(value.strip()), now=now)
    except ValueError:
        return None


UNIX_SECONDS_FROM = 1_000_000_000  # 2001-09-09: no sane wait is this long
UNIX_MILLIS_FROM = 1_000_000_000_000


def wait_form(value: str | None) -> str | None:
    """How a Retry-After / RateLimit-Reset value is spelled, for the run's log."""
    try:
        number = float((value or "").strip())
    except ValueError:
        return "an HTTP date" if value and value.strip() else None
    if number >= UNIX_MILLIS_FROM:
        return "a Unix time in milliseconds"
    return "a Unix time" if number >= UNIX_SECONDS_FROM else "seconds"


def seconds_until(number: float, *, now: float | None = None) -> float:
    """A reset or retry number as seconds to wait. The IETF draft and RFC 9110 send delta
    seconds; some services send a Unix time in seconds or milliseconds instead, which is
    recognisable because it is far larger than any sane wait."""
    if number >= UNIX_SECONDS_FROM:
        current = time.time() if now is None else now
        at = number / 1000 if number >= UNIX_MILLIS_FROM else number
        return max(0.0, at - current)
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
