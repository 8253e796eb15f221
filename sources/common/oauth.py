"""OAuth2 password and refresh-token grants (RFC 6749 §4.3, §6) as an `httpx.Auth`.

Any vendor whose API takes `Authorization: <token_type> <access_token>` from a token
endpoint can use it:

    grant = PasswordGrant(token_url, client_id=…, client_secret=…, username=…, password=…)
    auth = OAuth2Auth(grant, origins=[origin_of(api_url)], extra_headers={"client-id": "313"})
    VendorHttp("vendor", base_urls=[api_url, token_url], auth=auth, …)

What it does:
- the first request for one of `origins` first obtains a token (password grant); the
  token request is yielded from the auth flow itself, so it goes through the same client;
- a token is renewed before `expires_in` runs out (refresh grant, else password grant);
- a 401 mid-run renews once and retries the request once; a second 401 is returned to
  the caller, which treats it as an authentication failure;
- a rejected grant becomes an `AuthError` that names which credentials to check
  (client id/secret for `invalid_client`, username/password for `invalid_grant`)
  without printing any of them; a 5xx from the token endpoint is retryable;
- credentials and tokens are registered for redaction, and sent to no other origin.

One `PasswordGrant` may be shared by several sessions (threads, event loops): the
token lives there behind a thread lock, and renewals are serialised per event loop by an
asyncio lock the grant keeps for each loop, so sessions of one extract renew once between
them instead of racing each other with the same (rotating) refresh token."""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from dataclasses import dataclass

import httpx
import orjson

from sources.common.errors import AuthError, MalformedResponse
from sources.common.http import Origin, endpoint_of, origin_of
from sources.common.redaction import register_secret
from sources.common.retry import RETRY_STATUSES, RetryableStatus, parse_retry_after

# renew this long before expiry, but never more than a tenth of the token's lifetime
RENEW_MARGIN_S = 60.0


@dataclass(frozen=True)
class Token:
    access_token: str
    token_type: str
    expires_at: float | None  # monotonic seconds; None: the server gave no expiry
    refresh_token: str | None
    renew_at: float | None
    issued_at: float = 0.0  # monotonic seconds

    @property
    def header(self) -> str:
        return f"{self.token_type} {self.access_token}"

    def due(self, now: float | None = None) -> bool:
        return self.renew_at is not None and (now or time.monotonic()) >= self.renew_at


class PasswordGrant:
    """Credentials for the password grant and the current token (shared, thread-safe)."""

    def __init__(
        self,
        token_url: str,
        *,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        scope: str | None = None,
        source: str = "oauth",
        keys: Mapping[str, str] | None = None,
    ) -> None:
        self.token_url = token_url
        self.client_id, self.client_secret = client_id, client_secret
        self.username, self.password = username, password
        self.scope = scope
        self.source = source
        # config key names shown in error hints (vendors name them differently)
        self.keys = {
            "client_id": "client_id",
            "client_secret": "client_secret",
            "username": "username",
            "password": "password",
            **(keys or {}),
        }
        register_secret(client_id, client_secret, username, password)
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._renew_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self.grants: list[str] = []  # grant types sent, in order (for stats and tests)

    @property
    def token(self) -> Token | None:
        with self._lock:
            return self._token

    def renew_lock(self) -> asyncio.Lock:
        """The lock that serialises renewals of this grant within the running event loop."""
        loop = asyncio.get_running_loop()
        with self._lock:
            lock = self._renew_locks.get(loop)
            if lock is None:
                lock = self._renew_locks[loop] = asyncio.Lock()
            return lock

    # -- the grant requests ----------------------------------------------------------

    def password_request(self) -> httpx.Request:
        form = {
            "grant_type": "password",
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "username": self.username,
            "password": self.password,
        }
        if self.scope:
            form["scope"] = self.scope
        return self._form_request(form)

    def refresh_request(self, refresh_token: str) -> httpx.Request:
        return self._form_request(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            }
        )

    def _form_request(self, form: dict[str, str]) -> httpx.Request:
        with self._lock:
            self.grants.append(form["grant_type"])
        return httpx.Request(
            "POST",
            self.token_url,
            data=form,
            headers={"Accept": "application/json"},
        )

    def accept(self, response: httpx.Response, grant_type: str) -> Token:
        """Store the token of a successful grant response, or raise what went wrong."""
        endpoint = endpoint_of("POST", self.token_url)
        status = response.status_code
        if status in RETRY_STATUSES:
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            raise RetryableStatus(status, endpoint, retry_after, _oauth_error(response))
        if status != 200:
            raise self.rejected(response, grant_type)
        try:
            body = orjson.loads(response.content)
            access = str(body["access_token"])
            token_type = str(body.get("token_type") or "Bearer")
            expires_in = body.get("expires_in")
            expires_in = float(expires_in) if expires_in is not None else None
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
            raise MalformedResponse(
                "token response without access_token",
                source=self.source,
                endpoint=endpoint,
            ) from None
        refresh = body.get("refresh_token")
        register_secret(access, refresh)
        now = time.monotonic()
        token = Token(
            access_token=access,
            token_type=_canonical_type(token_type),
            expires_at=now + expires_in if expires_in is not None else None,
            refresh_token=str(refresh) if refresh else None,
            renew_at=(
                now + expires_in - min(RENEW_MARGIN_S, expires_in / 10)
                if expires_in is not None
                else None
            ),
            issued_at=now,
        )
        with self._lock:
            self._token = token
        return token

    def rejected(self, response: httpx.Response, grant_type: str) -> AuthError:
        code = _oauth_code(response)
        if code in ("invalid_client", "unauthorized_client") or response.status_code == 401:
            check = f"{self.keys['client_id']} and {self.keys['client_secret']}"
        elif code == "invalid_grant" and grant_type == "password":
            check = f"{self.keys['username']} and {self.keys['password']}"
        else:
            check = ", ".join(self.keys.values())
        return AuthError(
            f"the token endpoint rejected the {grant_type} grant "
            f"(HTTP {response.status_code}: {_oauth_error(response)})",
            source=self.source,
            endpoint=endpoint_of("POST", self.token_url),
            hint=f"check {check}",
        )


class OAuth2Auth(httpx.Auth):
    """Bearer-style auth from a `PasswordGrant`, for requests to `origins` only."""

    def __init__(
        self,
        grant: PasswordGrant,
        *,
        origins: Iterable[Origin],
        extra_headers: Mapping[str, str] | None = None,
        on_token_request: Callable[[], None] | None = None,
    ) -> None:
        self.grant = grant
        self.origins = frozenset(origins)
        self.extra_headers = dict(extra_headers or {})
        self.on_token_request = on_token_request

    def auth_flow(self, request: httpx.Request):  # pragma: no cover - async clients only
        raise RuntimeError("OAuth2Auth supports httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if origin_of(request.url) not in self.origins:
            yield request
            return
        token = self.grant.token
        renewal = {"stale": token, "force": False} if token is None or token.due() else None
        while True:
            if renewal is not None:
                steps = self._renew(**renewal)
                try:
                    step = await steps.asend(None)
                    while isinstance(step, httpx.Request):
                        answer = yield step
                        step = await steps.asend(await self._read(answer))
                finally:
                    await steps.aclose()
                token = step
            self._sign(request, token)
            response = yield request
            if response.status_code != 401 or (renewal is not None and renewal["force"]):
                return
            # the token died early (revoked, server restarted, clock skew): renew once and
            # retry once; only a token issued after this 401 arrived can be trusted alive
            renewal = {"stale": token, "force": True, "newer_than": time.monotonic()}

    # -- internals -------------------------------------------------------------------

    def _sign(self, request: httpx.Request, token: Token) -> None:
        request.headers["Authorization"] = token.header
        request.headers.update(self.extra_headers)

    async def _read(self, response: httpx.Response) -> httpx.Response:
        await response.aread()
        if self.on_token_request is not None:
            self.on_token_request()
        return response

    async def _renew(
        self, *, stale: Token | None, force: bool, newer_than: float = 0.0
    ) -> AsyncGenerator[httpx.Request | Token, httpx.Response | None]:
        """Yields token requests (the caller sends them and passes back the answers),
        then the new Token. One renewal at a time per session; a token another request
        renewed meanwhile is taken as it is — after a 401 (`force`) only if it was issued
        after that 401 arrived (`newer_than`): a token another session obtained earlier,
        even while our request was in flight, may have died with ours."""
        async with self.grant.renew_lock():
            current = self.grant.token
            usable = current is not None and not current.due()
            if usable and (not force or current.issued_at > newer_than):
                yield current
                return
            refresh = (current or stale).refresh_token if (current or stale) else None
            if refresh:
                response = yield self.grant.refresh_request(refresh)
                assert response is not None
                if response.status_code == 200 or response.status_code in RETRY_STATUSES:
                    yield self.grant.accept(response, "refresh_token")
                    return
                # refresh token expired or revoked: fall back to the password grant
            response = yield self.grant.password_request()
            assert response is not None
            yield self.grant.accept(response, "password")


def _canonical_type(token_type: str) -> str:
    """`bearer` → `Bearer` (RFC 6750 scheme spelling); other schemes as given."""
    return "Bearer" if token_type.lower() == "bearer" else token_type


def _oauth_code(response: httpx.Response) -> str | None:
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return None
    return str(body.get("error")) if isinstance(body, dict) and body.get("error") else None


def _oauth_error(response: httpx.Response) -> str:
    """`error: error_description` of an RFC 6749 §5.2 body, else the body's start."""
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and body.get("error"):
        text = str(body["error"])
        if body.get("error_description"):
            text += f": {body['error_description']}"
        return text
    if isinstance(body, dict) and body.get("detail"):
        return str(body["detail"])
    text = " ".join(response.text.split())
    return text[:200] if text else response.reason_phrase


__all__ = ["OAuth2Auth", "PasswordGrant", "Token"]
