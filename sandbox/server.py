"""A real HTTP/1.1 server on 127.0.0.1 for one simulated vendor host.

Routes map (method, path regex) to handlers that return a `Reply`. Around every handler
the server applies the vendor-independent behaviour the pipelines must cope with: a
request quota with `RateLimit-*` headers and 429s, injected 5xx and 429 bursts, bodies
replaced by HTML, cut short, or dropped mid-stream, slow answers. Every request is
recorded (method, path, query, headers) so tests can assert what was sent where."""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from sandbox.in_flight import InFlight
from sandbox.quota import Quota, reset_value

__all__ = ["Faults", "InFlight", "Recorded", "Reply", "Request", "VendorServer", "reset_value"]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, payload: Any, status: int = 200, **headers: str) -> Reply:
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(), headers=headers)


@dataclass
class Faults:
    """Knobs a test or `--faults` sets; counts are consumed request by request."""

    error_rate: float = 0.0  # share of requests answered 503, at random (seeded)
    error_burst: int = 0  # the next N requests answered 503
    rate_limit_burst: int = 0  # the next N requests answered 429 with Retry-After
    retry_after: float = 0.2  # seconds, for injected 429s
    # how RateLimit-Reset and Retry-After are spelled: "seconds" (delta, the IETF draft),
    # "unix" (a Unix time, as Holistics' `next_reset_time` may mean), "unix_ms"
    reset_format: str = "seconds"
    quota_limit: int = 0  # requests per quota_window; 0 = no quota, no RateLimit headers
    quota_window: float = 60.0
    html_bodies: int = 0  # the next N answers: 200 with an HTML page
    truncated_bodies: int = 0  # the next N answers: body cut in half, honest Content-Length
    reset_bodies: int = 0  # the next N answers: connection dropped half-way through the body
    slow_seconds: float = 0.0  # delay before every answer (read timeouts)
    path: str = ""  # when set, only requests whose path contains it are affected

    @classmethod
    def field_types(cls) -> dict[str, type]:
        return {f.name: type(getattr(cls(), f.name)) for f in fields(cls)}


Handler = Callable[..., Reply]
RouteLimit = tuple[str, int, float, str, int]  # bucket, limit, window, reset format, spent
HOST_QUOTA = ""  # the bucket of `Faults.quota_limit`


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int = 0


class VendorServer:
    """One simulated host. Start it, point a source at `base_url`, inspect `requests`."""

    def __init__(self, name: str, *, seed: int = 0, port: int = 0) -> None:
        self.name = name
        self.faults = Faults()
        self.requests: list[Recorded] = []
        self.served_429 = 0
        self.peak_in_flight = 0  # most requests affected by `faults.path` answered at once
        self.in_flight = InFlight()  # every request, body written included; may be shared
        self._in_flight = 0
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.quota = Quota()  # the host's bucket, and any per-route ones
        self.quota.open(HOST_QUOTA)
        # per-route limits: request → (bucket, limit, window, reset format, spent) or None
        self.route_limit: Callable[[Request], RouteLimit | None] | None = None
        # the body of a 429 (a vendor speaks its own error shape)
        self.rate_limited: Callable[[], Reply] = _rate_limited
        self._port = port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- setup ---------------------------------------------------------------------

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self._routes.append((method, re.compile(f"^{pattern}$"), handler))

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, f"{self.name} is not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> VendorServer:
        server = self

        class _Handler(_RequestHandler):
            vendor = server

        self._httpd = _Server(("127.0.0.1", self._port), _Handler)
        # a short poll: `shutdown` waits for the loop's next poll, and a sandbox stops
        # nine servers one after another (0.5 s each at the default)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"sandbox-{self.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()
            self.served_429 = 0
            self.peak_in_flight = 0

    # -- request handling ----------------------------------------------------------

    def handle(self, request: Request) -> tuple[Reply, str | None]:
        """The reply, and the body fault to apply to it ('html', 'truncate', 'reset')."""
        limit = self.route_limit(request) if self.route_limit else None
        if limit is None:
            return self._faulted(request)
        with self._lock:
            headers, exceeded = self.quota.take(*limit)
            if exceeded:
                self.served_429 += 1
                return self._limited(headers["RateLimit-Reset"], headers), None
        reply, fault = self._faulted(request)
        for name, value in headers.items():
            reply.headers.setdefault(name, value)
        return reply, fault

    def _faulted(self, request: Request) -> tuple[Reply, str | None]:
        affected = not self.faults.path or self.faults.path in request.path
        with self._lock:
            self._in_flight += affected
            self.peak_in_flight = max(self.peak_in_flight, self._in_flight)
        try:
            return self._answer(request, affected)
        finally:
            with self._lock:
                self._in_flight -= affected

    def _answer(self, request: Request, affected: bool) -> tuple[Reply, str | None]:
        faults = self.faults
        quota_headers: dict[str, str] = {}
        with self._lock:
            if faults.quota_limit:
                quota_headers, exceeded = self.quota.take(
                    HOST_QUOTA, faults.quota_limit, faults.quota_window, faults.reset_format
                )
                if exceeded:
                    self.served_429 += 1
                    reset = quota_headers["RateLimit-Reset"]
                    return self._limited(reset, quota_headers), None
            if affected and faults.rate_limit_burst > 0:
                faults.rate_limit_burst -= 1
                self.served_429 += 1
                retry = reset_value(faults.retry_after, faults.reset_format)
                return self._limited(retry, quota_headers), None
            if affected and faults.error_burst > 0:
                faults.error_burst -= 1
                return Reply.json({"error": "injected burst"}, 503), None
            if affected and faults.error_rate and self._random.random() < faults.error_rate:
                return Reply.json({"error": "injected error"}, 503), None
        reply = self._dispatch(request)
        reply.headers.update(quota_headers)
        body_fault = None
        with self._lock:
            if affected and reply.status < 300:
                for name, knob in (
                    ("html", "html_bodies"),
                    ("truncate", "truncated_bodies"),
                    ("reset", "reset_bodies"),
                ):
                    if getattr(faults, knob) > 0:
                        setattr(faults, knob, getattr(faults, knob) - 1)
                        body_fault = name
                        break
        if faults.slow_seconds and affected:
            time.sleep(faults.slow_seconds)
        return reply, body_fault

    def _limited(self, retry_after: str, headers: dict[str, str]) -> Reply:
        reply = self.rate_limited()
        reply.headers.update(headers)
        reply.headers["Retry-After"] = retry_after
        return reply

    def _dispatch(self, request: Request) -> Reply:
        allowed = False
        for method, pattern, handler in self._routes:
            match = pattern.match(request.path)
            if not match:
                continue
            allowed = True
            if method == request.method:
                return handler(request, **match.groupdict())
        if allowed:
            return Reply.json({"error": "method not allowed"}, 405)
        return Reply.json({"error": f"no route {request.path}"}, 404)

    def record(self, request: Request) -> Recorded:
        entry = Recorded(request.method, request.path, request.query, request.headers, request.body)
        with self._lock:
            self.requests.append(entry)
        return entry

    def seen(self, path_part: str = "", method: str | None = None) -> list[Recorded]:
        with self._lock:
            return [
                r
                for r in self.requests
                if path_part in r.path and (method is None or r.method == method)
            ]


def _rate_limited() -> Reply:
    return Reply.json({"error": "rate limit exceeded"}, 429)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up (and the connections we reset on purpose) are not errors."""


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body go out in two writes: with Nagle on, the body waits for the ACK of
    # the headers, which the client delays by up to 40 ms, on every keep-alive request
    disable_nagle_algorithm = True
    vendor: VendorServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            self.command,
            split.path,
            parse_qs(split.query, keep_blank_values=True),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        entry = self.vendor.record(request)
        with self.vendor.in_flight.counting():
            try:
                reply, body_fault = self.vendor.handle(request)
            except Exception as exc:  # a simulator bug must show as a 500, not a hang
                reply, body_fault = Reply.json({"error": f"sandbox error: {exc!r}"}, 500), None
            entry.status = reply.status
            self._write(reply, body_fault)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def finish(self) -> None:
        with contextlib.suppress(OSError):  # the connection was reset on purpose
            super().finish()

    def _write(self, reply: Reply, body_fault: str | None) -> None:
        content_type = reply.content_type
        if body_fault == "html":
            reply = Reply(
                200,
                b"<html><body><h1>Service temporarily unavailable</h1></body></html>",
                "text/html; charset=utf-8",
                reply.headers,
            )
        if isinstance(reply.body, bytes | bytearray):
            body = bytes(reply.body)
            if body_fault == "truncate":
                body = body[: len(body) // 2]
            self._head(
                reply, content_type if body_fault != "html" else reply.content_type, len(body)
            )
            if body_fault == "reset":
                self.wfile.write(body[: len(body) // 2])
                self._drop_connection()
                return
            self.wfile.write(body)
            return
        self._write_chunks(reply, reply.body, body_fault)

    def _write_chunks(self, reply: Reply, chunks: Iterable[bytes], body_fault: str | None) -> None:
        """A streamed body (large CSV, many pages): chunked transfer encoding."""
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        for sent, chunk in enumerate(_iter_chunks(chunks)):
            if body_fault in ("reset", "truncate") and sent > 0:
                self._drop_connection()
                return
            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self.wfile.write(b"0\r\n\r\n")

    def _head(self, reply: Reply, content_type: str, length: int) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _drop_connection(self) -> None:
        """Reset the TCP connection (RST, not FIN): the client sees a broken body."""
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()


def _iter_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    for chunk in chunks:
        if chunk:
            yield chunk
