"""The shared HTTP layer against a real local server: retries, Retry-After, quotas, redirects
and credential scoping, malformed bodies, redaction."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import time
from collections.abc import Iterator

import pytest

from sandbox.server import Reply, VendorServer
from sources.common.errors import AuthError, MalformedResponse, PipelineError, VendorError
from sources.common.http import HttpPolicy, ScopedAuth, VendorHttp, origin_of
from sources.common.redaction import RedactingFilter, redact, register_secret
from sources.common.retry import parse_rate_limit_reset, parse_retry_after
from sources.common.stats import SourceStats

SECRET = "s3cr3t-key-for-http-tests"
FAST = HttpPolicy(backoff_initial=0.01, backoff_max=0.05, max_attempts=4, read_timeout=2)


@pytest.fixture
def vendor() -> Iterator[VendorServer]:
    server = VendorServer("vendor")
    server.route("GET", r"/items", lambda req: Reply.json({"items": [1, 2, 3]}))
    server.route(
        "GET",
        r"/to-storage",
        lambda req: Reply(302, b"", headers={"Location": f"{storage.base_url}/blob"}),
    )
    server.route("GET", r"/to-self", lambda req: Reply(302, b"", headers={"Location": "/items"}))
    server.route("GET", r"/secret", lambda req: Reply.json({"type": "AuthError"}, 401))
    storage = VendorServer("storage")
    storage.route("GET", r"/blob", lambda req: Reply(200, b"a,b\n1,2\n", "text/csv"))
    server.storage = storage  # type: ignore[attr-defined]
    server.start()
    storage.start()
    yield server
    server.stop()
    storage.stop()


def client(
    server: VendorServer, stats: SourceStats | None = None, policy: HttpPolicy = FAST
) -> VendorHttp:
    auth = ScopedAuth([origin_of(server.base_url)], lambda: {"X-Key": SECRET})
    return VendorHttp(
        "testvendor",
        base_urls=[server.base_url],
        auth=auth,
        policy=policy,
        stats=stats or SourceStats(),
    )


def run(coro):
    return asyncio.run(coro)


async def get(http: VendorHttp, path: str):
    async with http:
        return await http.get_json(f"{http_base(http)}{path}")


def http_base(http: VendorHttp) -> str:
    scheme, host, port = next(iter(http.origins))
    return f"{scheme}://{host}:{port}"


def test_retries_5xx_bursts_and_counts_them(vendor: VendorServer) -> None:
    vendor.faults.error_burst = 3
    stats = SourceStats()
    assert run(get(client(vendor, stats), "/items")) == {"items": [1, 2, 3]}
    assert stats.retries == 3 and stats.requests == 4


def test_gives_up_after_max_attempts_with_one_line(vendor: VendorServer) -> None:
    vendor.faults.error_burst = 10
    with pytest.raises(VendorError) as caught:
        run(get(client(vendor), "/items"))
    assert caught.value.line() == (
        'testvendor: GET /items: HTTP 503 after 4 attempts: {"error":"injected burst"}'
    )


def test_429_waits_for_retry_after(vendor: VendorServer) -> None:
    vendor.faults.rate_limit_burst = 1
    vendor.faults.retry_after = 0.4
    stats = SourceStats()
    started = time.monotonic()
    run(get(client(vendor, stats), "/items"))
    assert time.monotonic() - started >= 0.4
    assert stats.rate_limited == 1


def test_a_retry_after_beyond_the_limit_fails_instead_of_sleeping(vendor: VendorServer) -> None:
    vendor.faults.rate_limit_burst = 1
    vendor.faults.retry_after = 3600
    policy = HttpPolicy(backoff_initial=0.01, max_attempts=4, max_retry_after=5)
    with pytest.raises(VendorError, match="wait 3600 s, more than max_retry_after"):
        run(get(client(vendor, policy=policy), "/items"))


def test_quota_headers_are_obeyed_without_provoking_429s(vendor: VendorServer) -> None:
    vendor.faults.quota_limit = 5
    vendor.faults.quota_window = 1.0
    http = client(vendor)

    async def many() -> float:
        async with http:
            started = time.monotonic()
            await asyncio.gather(*(http.get_json(f"{vendor.base_url}/items") for _ in range(12)))
            return time.monotonic() - started

    elapsed = run(many())
    assert vendor.served_429 == 0
    assert len(vendor.requests) == 12
    assert elapsed >= 1.0  # 12 requests at 5 per second need at least two resets


def test_connection_reset_mid_body_is_retried(vendor: VendorServer) -> None:
    vendor.faults.reset_bodies = 2
    stats = SourceStats()
    assert run(get(client(vendor, stats), "/items")) == {"items": [1, 2, 3]}
    assert stats.retries == 2


@pytest.mark.parametrize("fault", ["html_bodies", "truncated_bodies"])
def test_malformed_json_is_one_clear_line(vendor: VendorServer, fault: str) -> None:
    setattr(vendor.faults, fault, 1)
    with pytest.raises(MalformedResponse) as caught:
        run(get(client(vendor), "/items"))
    line = caught.value.line()
    assert line.startswith("testvendor: GET /items: expected JSON")
    assert "\n" not in line


def test_401_is_an_auth_error(vendor: VendorServer) -> None:
    with pytest.raises(AuthError) as caught:
        run(get(client(vendor), "/secret"))
    assert caught.value.exit_code == 3


def test_credentials_go_to_the_vendor_but_not_across_a_redirect(vendor: VendorServer) -> None:
    storage: VendorServer = vendor.storage  # type: ignore[attr-defined]
    http = client(vendor)

    async def fetch() -> bytes:
        async with http:
            response = await http.request("GET", f"{vendor.base_url}/to-storage")
            await http.request("GET", f"{vendor.base_url}/to-self")
            return response.content

    assert run(fetch()) == b"a,b\n1,2\n"
    assert all(r.headers.get("x-key") == SECRET for r in vendor.requests)
    assert len(vendor.requests) == 3  # to-storage, to-self, and the same-origin hop to /items
    assert storage.requests and all("x-key" not in r.headers for r in storage.requests)


def test_download_streams_through_a_redirect_without_credentials(
    vendor: VendorServer, tmp_path
) -> None:
    storage: VendorServer = vendor.storage  # type: ignore[attr-defined]
    http = client(vendor)

    async def fetch() -> int:
        async with http:
            return await http.download_to_path(f"{vendor.base_url}/to-storage", tmp_path / "f")

    assert run(fetch()) == 8
    assert (tmp_path / "f").read_bytes() == b"a,b\n1,2\n"
    assert all("x-key" not in r.headers for r in storage.requests)


def test_refuses_vendor_links_to_foreign_hosts(vendor: VendorServer) -> None:
    http = client(vendor)
    with pytest.raises(PipelineError, match=r"foreign host evil\.example"):
        http.require_vendor_url("https://evil.example/steal", "a Location")
    assert http.require_vendor_url(f"{vendor.base_url}/x", "a Location")


@pytest.mark.parametrize(
    ("value", "expected"),
    [("3", 3.0), ("0.5", 0.5), ("-4", 0.0), ("", None), (None, None), ("soon", None)],
)
def test_retry_after_seconds(value, expected) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_http_date() -> None:
    now = time.time()
    header = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= parse_retry_after(header, now=now) <= 31


def test_rate_limit_reset_delta_or_epoch() -> None:
    assert parse_rate_limit_reset("12") == 12
    assert parse_rate_limit_reset(str(int(time.time()) + 20), now=time.time()) == pytest.approx(
        20, abs=1.5
    )
    assert parse_rate_limit_reset("later") is None


def test_redaction_scrubs_errors_and_log_records(caplog) -> None:
    register_secret("tok-very-secret-123", None, "ab")  # too-short values are ignored
    assert redact("Bearer tok-very-secret-123 ab") == "Bearer *** ab"
    error = VendorError("server echoed tok-very-secret-123", source="x")
    assert "tok-very-secret-123" not in error.line()
    logger = logging.getLogger("test.redaction")
    logger.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="test.redaction"):
        logger.info("header was %s", "tok-very-secret-123")
    assert "tok-very-secret-123" not in caplog.text and "***" in caplog.text
