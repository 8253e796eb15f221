"""The shared OAuth2 grant against a real local token endpoint: tokens that all die at
once while several sessions hold different ones."""

from __future__ import annotations

import asyncio
import secrets
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs

import pytest

from sandbox.server import Reply, Request, VendorServer
from sources.common.http import HttpPolicy, VendorHttp, origin_of
from sources.common.oauth import OAuth2Auth, PasswordGrant
from sources.common.stats import SourceStats


class TokenServer:
    """An API and its token endpoint; `kill()` revokes every live access token."""

    def __init__(self) -> None:
        self.server = VendorServer("oauth")
        self.live: set[str] = set()
        self.refresh: set[str] = set()
        self.grants: list[str] = []
        self.server.route("POST", r"/o/token/", self.token)
        self.server.route("GET", r"/data", self.data)
        self.server.route("GET", r"/held", self.held)
        self.release = threading.Event()

    def token(self, request: Request) -> Reply:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        self.grants.append(form["grant_type"])
        if form["grant_type"] == "refresh_token":
            if form.get("refresh_token") not in self.refresh:
                return Reply.json({"error": "invalid_grant"}, 400)
            self.refresh.discard(form["refresh_token"])
        access, refresh = secrets.token_hex(8), secrets.token_hex(8)
        self.live.add(access)
        self.refresh.add(refresh)
        return Reply.json(
            {
                "access_token": access,
                "token_type": "bearer",
                "expires_in": 3600,
                "refresh_token": refresh,
            }
        )

    def data(self, request: Request) -> Reply:
        token = request.headers.get("authorization", "").partition(" ")[2]
        if token not in self.live:
            return Reply.json({"detail": "not authenticated"}, 401)
        return Reply.json({"ok": True})

    def held(self, request: Request) -> Reply:
        """Answers only once released: a request in flight while tokens change."""
        self.release.wait(10)
        return self.data(request)

    def kill(self) -> None:
        self.live.clear()


@pytest.fixture
def api() -> Iterator[TokenServer]:
    api = TokenServer()
    api.server.start()
    yield api
    api.server.stop()


def test_sessions_holding_different_tokens_all_recover_when_every_token_dies(
    api: TokenServer,
) -> None:
    base = api.server.base_url
    grant = PasswordGrant(
        f"{base}/o/token/",
        client_id="cid-123",
        client_secret="csecret-1",
        username="user-1",
        password="pass-word-1",
    )

    def session() -> VendorHttp:
        auth = OAuth2Auth(grant, origins=[origin_of(base)])
        return VendorHttp(
            "oauth-test",
            base_urls=[base],
            auth=auth,
            stats=SourceStats(),
            policy=HttpPolicy(backoff_initial=0.01, max_attempts=3),
        )

    async def scenario() -> list[dict]:
        async with session() as first, session() as second:
            # the first session's request leaves signed with token 1 and is held
            held = asyncio.create_task(first.get_json(f"{base}/held"))
            while not api.server.seen("/held"):
                await asyncio.sleep(0.01)
            grant._token = None  # meanwhile the second session takes token 2, as tables do
            await second.get_json(f"{base}/data")
            api.kill()  # both tokens die at once
            api.release.set()
            # token 2 looks "renewed meanwhile" to the first session, but it died too
            return [await held, await second.get_json(f"{base}/data")]

    assert asyncio.run(scenario()) == [{"ok": True}, {"ok": True}]
    # one renewal between the two sessions: the second waits and takes the fresh token
    assert api.grants == ["password", "password", "refresh_token"]
    assert [r.status for r in api.server.seen("/held")] == [401, 200]
