"""The cells of the fault matrix (tests/test_faults.py): what a cell is, and the ways
its fault is injected into the sandbox and its outcome checked."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sandbox import Sandbox
from sandbox.server import Reply, Request, VendorServer
from tests.conftest import CliResult


@dataclass
class Case:
    fault: str
    source: str
    inject: Callable[[Sandbox], None]
    code: int = 0  # 0 = recovered
    message: str = ""  # what the first error line must say
    env: dict[str, str] = field(default_factory=dict)
    check: Callable[[Sandbox, CliResult], None] | None = None
    slow: bool = False

    @property
    def id(self) -> str:
        return f"{self.fault}-{self.source}"


# -- injecting faults ---------------------------------------------------------------------


def main_server(sb: Sandbox, source: str) -> VendorServer:
    return sb.sims[source].api if source != "kissmetrics" else sb.kissmetrics.query


def body_fault(source: str, knob: str) -> Callable[[Sandbox], None]:
    """One JSON answer spoilt (Kissmetrics: a results page; its run answers 202)."""

    def inject(sb: Sandbox) -> None:
        server = main_server(sb, source)
        server.faults.path = "/results" if source == "kissmetrics" else ""
        setattr(server.faults, knob, 1)

    return inject


def on_all(**knobs: Any) -> Callable[[Sandbox], None]:
    def inject(sb: Sandbox) -> None:
        for server in sb.servers:
            for knob, value in knobs.items():
                setattr(server.faults, knob, value)

    return inject


def on(source: str, server: str, **knobs: Any) -> Callable[[Sandbox], None]:
    def inject(sb: Sandbox) -> None:
        target = getattr(sb.sims[source], server)
        for knob, value in knobs.items():
            setattr(target.faults, knob, value)

    return inject


def sim_knob(source: str, **knobs: Any) -> Callable[[Sandbox], None]:
    def inject(sb: Sandbox) -> None:
        for knob, value in knobs.items():
            setattr(sb.sims[source], knob, value)

    return inject


Edit = Callable[[Sandbox, Request, Reply], Reply]


def intercept(source: str, server: str, route: str, edit: Edit) -> Callable[[Sandbox], None]:
    """Have the vendor answer one route differently: the edit sees request and reply."""

    def inject(sb: Sandbox) -> None:
        host: VendorServer = getattr(sb.sims[source], server)
        for i, (method, pattern, handler) in enumerate(host._routes):
            if route in pattern.pattern:

                def wrapped(request: Request, _handler=handler, **kwargs: str) -> Reply:
                    return edit(sb, request, _handler(request, **kwargs))

                host._routes[i] = (method, pattern, wrapped)

    return inject


def once(edit: Edit, when: Callable[[Request], bool]) -> Edit:
    """Apply `edit` to the first reply whose request matches `when`, once."""
    done: list[bool] = []

    def apply(sb: Sandbox, request: Request, reply: Reply) -> Reply:
        if done or not when(request) or reply.status != 200:
            return reply
        done.append(True)
        return edit(sb, request, reply)

    return apply


def json_edit(change: Callable[[dict], None]) -> Edit:
    def edit(sb: Sandbox, request: Request, reply: Reply) -> Reply:
        assert isinstance(reply.body, bytes)
        body = json.loads(reply.body)
        change(body)
        return Reply.json(body, reply.status, **reply.headers)

    return edit


def empty_cursor_page(sb: Sandbox, request: Request, reply: Reply) -> Reply:
    """A Holistics page with no items whose `next` cursor says there is more."""
    assert isinstance(reply.body, bytes)
    body = json.loads(reply.body)
    body["users"] = []
    body["cursors"] = {"previous": None, "next": request.arg("after")}
    return Reply.json(body, reply.status, **reply.headers)


def later_page(name: str) -> Callable[[Request], bool]:
    """A request for a page after the first."""

    def when(request: Request) -> bool:
        value = request.arg(name)
        return value is not None and value not in ("0", "1")

    return when


def redirect_to_foreign(sb: Sandbox, request: Request, reply: Reply) -> Reply:
    return Reply(302, b"", headers={"Location": f"{sb.foreign.base_url}{request.path}"})


def foreign_next_link(sb: Sandbox, request: Request, reply: Reply) -> Reply:
    assert isinstance(reply.body, bytes)
    body = reply.body.replace(sb.datawiz.api.base_url.encode(), sb.foreign.base_url.encode())
    return Reply(reply.status, body, reply.content_type, reply.headers)


def no_credentials_abroad(sb: Sandbox, result: CliResult) -> None:
    secrets = {
        "datawiz": ("authorization", "client-id"),
        "holistics": ("x-holistics-key",),
        "quantive": ("authorization", "gtmhub-accountid"),
        "kissmetrics": ("authorization",),
    }
    for request in sb.foreign.requests:
        for source in sb.sims:
            assert not set(secrets[source]) & set(request.headers), request


def served_429(sb: Sandbox, result: CliResult) -> None:
    assert sb.served_429() >= 3
