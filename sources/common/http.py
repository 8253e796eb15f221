"""The one HTTP client every vendor source uses.

What it guarantees, so no source has to think about it again:
- connect and read timeouts on every request; TLS verification always on;
- retries (tenacity) on 429, 5xx and transport errors, honouring `Retry-After`, and a
  quota gate that reads `RateLimit-*` headers and waits for the reset;
- credentials attached by a `ScopedAuth` only to the vendor's configured origins:
  redirects are followed here, hop by hop, so a hop to another host goes without them;
- a vendor's error body turned into one line (`describe_error`), 401/403 as `AuthError`;
- request and retry counts in the source's `SourceStats`.

Create one per extract (`async with VendorHttp(...)`): dlt starts a new event loop for
every extract and an `httpx.AsyncClient` cannot outlive its loop."""

from __future__ import annotations

import functools
import logging
import ssl
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import orjson
from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt

from sources.common.errors import AuthError, ForeignHostError, MalformedResponse, VendorError
from sources.common.quota import QuotaGate
from sources.common.retry import (
    RETRY_STATUSES,
    TRANSIENT_ERRORS,
    RetryableStatus,
    is_retryable,
    parse_rate_limit_reset,
    parse_retry_after,
    stop_on_long_retry_after,
    wait_form,
    wait_retry_after,
)
from sources.common.stats import SourceStats, stats_for

log = logging.getLogger("sources.http")

Origin = tuple[str, str, int]
USER_AGENT = "vendor-elt/0.1 (+dlt)"
MAX_REDIRECTS = 5
_DOWNLOAD_CHUNK = 1 << 20


def origin_of(url: str | httpx.URL) -> Origin:
    parsed = httpx.URL(str(url))
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    return parsed.scheme, parsed.host, port


@configspec
class HttpPolicy(BaseConfiguration):
    """Timeouts and retry limits: `[sources.<vendor>.http]` in config.toml."""

    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 6
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    max_retry_after: float = 300.0
    max_connections: int = 16


class ScopedAuth(httpx.Auth):
    """Adds the vendor's credential headers only to requests for the vendor's own origins."""

    def __init__(self, origins: Iterable[Origin], headers: Callable[[], Mapping[str, str]]) -> None:
        self.origins = frozenset(origins)
        self._headers = headers

    def auth_flow(self, request: httpx.Request):
        if origin_of(request.url) in self.origins:
            request.headers.update(self._headers())
        yield request


def endpoint_of(method: str, url: str | httpx.URL) -> str:
    return f"{method} {httpx.URL(str(url)).path}"


def describe_plain(response: httpx.Response) -> str:
    """Default error text: the start of the body, on one line."""
    text = " ".join(response.text.split())
    return text[:200] if text else response.reason_phrase


class VendorHttp:
    def __init__(
        self,
        source: str,
        *,
        base_urls: Iterable[str],
        auth: httpx.Auth | None,
        policy: HttpPolicy | None = None,
        describe_error: Callable[[httpx.Response], str] = describe_plain,
        auth_statuses: Collection[int] = (401, 403),
        stats: SourceStats | None = None,
        quota_key: Callable[[str, httpx.URL], str] | None = None,
    ) -> None:
        self.source = source
        self.origins = frozenset(origin_of(u) for u in base_urls)
        self.auth = auth
        self.policy = policy or HttpPolicy()
        self.describe_error = describe_error
        self.auth_statuses = frozenset(auth_statuses)
        self.stats = stats or stats_for(source)
        self.quota = QuotaGate()
        # vendors that count quota per endpoint (Holistics) name each request's bucket;
        # every bucket then has its own gate, fed by that bucket's RateLimit headers
        self.quota_key = quota_key
        self._gates: dict[str, QuotaGate] = {}
        self._wait_forms: set[tuple[str, str]] = set()
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> VendorHttp:
        p = self.policy
        self._client = httpx.AsyncClient(
            verify=_tls_context(),
            timeout=httpx.Timeout(p.read_timeout, connect=p.connect_timeout),
            limits=httpx.Limits(max_connections=p.max_connections),
            follow_redirects=False,  # we follow them ourselves, re-scoping credentials per hop
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
        waits = self.quota.waits + sum(gate.waits for gate in self._gates.values())
        self.stats.count("quota_waits", waits)

    def require_vendor_url(self, url: str, what: str) -> str:
        """Refuse a URL the vendor handed us (a Location, a link) that leaves its hosts."""
        if origin_of(url) not in self.origins:
            host = httpx.URL(url).host
            raise ForeignHostError(
                f"{what} points to foreign host {host}; refusing to send credentials there",
                source=self.source,
            )
        return url

    # -- requests --------------------------------------------------------------------

    async def request(
        self, method: str, url: str, *, expect: Collection[int] = (200,), **kwargs: Any
    ) -> httpx.Response:
        """Send with retries; return a fully read response whose status is in `expect`."""
        async for attempt in self._retrying(method, url):
            with attempt:
                response = await self._send(method, url, kwargs, stream=False)
                self._check_status(method, response, expect)
                return response
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_json(self, url: str, **kwargs: Any) -> Any:
        response = await self.request("GET", url, **kwargs)
        return parse_json(response, self.source)

    async def post_json(self, url: str, **kwargs: Any) -> Any:
        response = await self.request("POST", url, **kwargs)
        return parse_json(response, self.source)

    async def download(self, url: str, dest: BinaryIO, **kwargs: Any) -> int:
        """Stream a body to `dest` in chunks; a download cut mid-body starts over."""
        async for attempt in self._retrying("GET", url):
            with attempt:
                dest.seek(0)
                dest.truncate()
                async with self._streaming("GET", url, kwargs) as response:
                    async for chunk in response.aiter_bytes(_DOWNLOAD_CHUNK):
                        dest.write(chunk)
                return dest.tell()
        raise AssertionError("unreachable")  # pragma: no cover

    async def download_to_path(self, url: str, path: Path, **kwargs: Any) -> int:
        with path.open("w+b") as handle:
            return await self.download(url, handle, **kwargs)

    # -- internals -------------------------------------------------------------------

    def _retrying(self, method: str, url: str) -> AsyncRetrying:
        p = self.policy

        def before_sleep(state: Any) -> None:
            exc = state.outcome.exception()
            self.stats.count("retries")
            if isinstance(exc, RetryableStatus) and exc.status == 429:
                self.stats.count("rate_limited")
            cause = f"HTTP {exc.status}" if isinstance(exc, RetryableStatus) else type(exc).__name__
            log.warning(
                "%s: %s: %s, retry %d/%d in %.1f s",
                self.source,
                endpoint_of(method, url),
                cause,
                state.attempt_number,
                p.max_attempts - 1,
                state.next_action.sleep,
            )

        return AsyncRetrying(
            retry=retry_if_exception(is_retryable),
            wait=wait_retry_after(p.backoff_initial, p.backoff_max),
            stop=stop_after_attempt(p.max_attempts) | stop_on_long_retry_after(p.max_retry_after),
            before_sleep=before_sleep,
            retry_error_callback=lambda state: self._give_up(method, url, state),
        )

    def _give_up(self, method: str, url: str, state: Any) -> None:
        exc = state.outcome.exception()
        endpoint = endpoint_of(method, url)
        tries = state.attempt_number
        if isinstance(exc, RetryableStatus):
            if exc.retry_after is not None and exc.retry_after > self.policy.max_retry_after:
                cause = (
                    f"HTTP {exc.status}, vendor asks to wait {exc.retry_after:.0f} s, "
                    f"more than max_retry_after ({self.policy.max_retry_after:.0f} s)"
                )
            else:
                cause = f"HTTP {exc.status} after {tries} attempts: {exc.detail}"
            raise VendorError(cause, source=self.source, endpoint=endpoint) from None
        detail = str(exc) or type(exc).__name__
        hint = None
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            # nobody answered at all: a wrong URL setting as likely as an outage
            _, host, port = origin_of(url)
            detail = f"cannot connect to {host}:{port} ({detail})"
            hint = f"check the URL settings in [sources.{self.source}] and that the host is up"
        raise VendorError(
            f"{type(exc).__name__} after {tries} attempts: {detail}",
            source=self.source,
            endpoint=endpoint,
            hint=hint,
        ) from None

    async def _send(
        self, method: str, url: str, kwargs: dict[str, Any], *, stream: bool
    ) -> httpx.Response:
        """One attempt, following redirects hop by hop (credentials re-scoped each hop)."""
        assert self._client is not None, "use VendorHttp as an async context manager"
        for _ in range(MAX_REDIRECTS + 1):
            request = self._client.build_request(method, url, **kwargs)
            gate = self._gate(method, request.url)
            await gate.acquire()
            headers = None
            try:
                response = await self._client.send(request, auth=self.auth, stream=True)
                headers = response.headers
            finally:
                gate.release(headers)
            self.stats.count("requests")
            if response.is_redirect and "location" in response.headers:
                await response.aclose()
                url = str(response.url.join(response.headers["location"]))
                if origin_of(url) not in self.origins:
                    log.info(
                        "%s: following redirect to %s without credentials",
                        self.source,
                        httpx.URL(url).host,
                    )
                # The Location is the whole target: its own query string (a pre-signed
                # storage URL's signature) must not be replaced by our `params`.
                dropped = {"params"}
                if response.status_code in (301, 302, 303) and method != "HEAD":
                    method = "GET"
                    dropped |= {"json", "data", "content", "files"}
                kwargs = {k: v for k, v in kwargs.items() if k not in dropped}
                continue
            if not stream:
                try:
                    await response.aread()
                finally:
                    await response.aclose()
            return response
        raise VendorError(
            f"more than {MAX_REDIRECTS} redirects",
            source=self.source,
            endpoint=endpoint_of(method, url),
        )

    def _note_wait_form(self, header: str, value: str) -> None:
        """Say once per session how the vendor spells its waits (the docs leave it open)."""
        form = wait_form(value)
        if form and (header, form) not in self._wait_forms:
            self._wait_forms.add((header, form))
            log.info("%s: %s read as %s (%s)", self.source, header, form, value)

    def _gate(self, method: str, url: httpx.URL) -> QuotaGate:
        if self.quota_key is None:
            return self.quota
        key = self.quota_key(method, url)
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = QuotaGate()
        return gate

    @asynccontextmanager
    async def _streaming(
        self, method: str, url: str, kwargs: dict[str, Any]
    ) -> AsyncIterator[httpx.Response]:
        response = await self._send(method, url, kwargs, stream=True)
        try:
            if response.status_code != 200:
                await response.aread()
                self._check_status(method, response, (200,))
            yield response
        finally:
            await response.aclose()

    def _check_status(self, method: str, response: httpx.Response, expect: Collection[int]) -> None:
        status = response.status_code
        if status in expect:
            return
        endpoint = endpoint_of(method, response.request.url)
        detail = self.describe_error(response)
        if status in RETRY_STATUSES:
            header = "retry-after"
            retry_after = parse_retry_after(response.headers.get(header))
            if retry_after is None and status == 429:
                header = "ratelimit-reset"
                retry_after = parse_rate_limit_reset(response.headers.get(header))
            if retry_after is not None:
                self._note_wait_form(header, response.headers[header])
            raise RetryableStatus(status, endpoint, retry_after, detail)
        if status in self.auth_statuses and origin_of(response.request.url) not in self.origins:
            # a host that never got our credentials (file storage behind a redirect)
            # refusing is not a credentials problem: an expired or mangled signed link
            raise VendorError(
                f"HTTP {status} from {response.request.url.host}, which got no credentials "
                f"from us: {detail}",
                source=self.source,
                endpoint=endpoint,
                hint="a signed download link that expired or was altered; rerun",
            )
        if status in self.auth_statuses:
            raise AuthError(
                f"HTTP {status}: {detail}",
                source=self.source,
                endpoint=endpoint,
                hint="check the credentials and their permissions",
            )
        raise VendorError(f"HTTP {status}: {detail}", source=self.source, endpoint=endpoint)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """httpx's own default context (verification on, its CA bundle and environment
    settings), built once: loading the CA bundle took ~20 ms for every client, and a run
    opens dozens."""
    return httpx.create_ssl_context()


def parse_json(response: httpx.Response, source: str) -> Any:
    """The body as JSON, or a one-line `MalformedResponse` saying what came instead."""
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        content_type = response.headers.get("content-type", "no content type")
        snippet = " ".join(response.text[:60].split())
        raise MalformedResponse(
            f"expected JSON, got {content_type} ({len(response.content)} bytes: {snippet!r})",
            source=source,
            endpoint=endpoint_of(response.request.method, response.request.url),
            hint="a proxy or maintenance page, or a cut-off body; rerun when the vendor is healthy",
        ) from None


__all__ = [
    "TRANSIENT_ERRORS",
    "HttpPolicy",
    "ScopedAuth",
    "VendorHttp",
    "endpoint_of",
    "origin_of",
    "parse_json",
]
