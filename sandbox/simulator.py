"""The base of every vendor simulator: its hosts, its route table, the auth check in
front of every route that needs one, its dialect knobs and its environment.

A vendor simulator is a subclass that declares `name`, `HOSTS` (its hosts, in port
order), `DIALECTS` (knob → forms, the default first), `ROUTES` (which handler answers
what, on which host, whether it needs auth), `refuse` (its auth check and the refusals
that come before any handler) and `settings` (what points its source at it); `setup`
builds its data. Faults, quotas and their headers, slow answers and the in-flight count
belong to each host (`sandbox/server.py`), the same for every vendor."""

from __future__ import annotations

import hashlib
import threading
from datetime import date, datetime
from typing import Any, ClassVar, NamedTuple

from sandbox.server import Handler, Reply, Request, VendorServer


class Route(NamedTuple):
    host: str  # attribute name of the host, one of `HOSTS`
    method: str
    pattern: str  # a regex over the path; named groups are the handler's arguments
    handler: str  # the simulator's method that answers
    public: bool = False  # True: no auth check (a token endpoint, a signed file URL)
    level: int = 1  # the route's rate-limit level, for vendors that limit per route


class Simulator:
    """One simulated vendor; `sandbox.Sandbox` starts every host in `servers`."""

    name: ClassVar[str]
    HOSTS: ClassVar[tuple[str, ...]] = ("api",)
    DIALECTS: ClassVar[dict[str, tuple[str, ...]]] = {}
    ROUTES: ClassVar[tuple[Route, ...]] = ()
    API_PREFIX: ClassVar[str] = ""  # the path of the API on its first host

    def __init__(
        self, rows: int, *, data_start: datetime, data_end: datetime, seed: int = 0
    ) -> None:
        self.rows, self.seed = rows, seed
        self.data_start, self.data_end = data_start, data_end
        self._lock = threading.Lock()
        for knob, forms in self.DIALECTS.items():
            setattr(self, knob, forms[0])
        for offset, host in enumerate(self.HOSTS):
            setattr(self, host, VendorServer(f"{self.name}-{host}", seed=seed + offset))
        self.setup(rows)
        for route in self.ROUTES:
            handler = getattr(self, route.handler)
            if not route.public:
                handler = self._authed(route.host, handler)
            self.host(route.host).route(route.method, route.pattern, handler)

    def setup(self, rows: int) -> None:
        """Build the vendor's data and its knobs (before the routes are registered)."""

    def settings(self) -> dict[str, str]:
        """The source's configuration that points it at this simulator (lower-case keys)."""
        raise NotImplementedError

    def start_date(self) -> date:
        """The first day the source is told to load."""
        return self.data_start.date()

    def env(self) -> dict[str, str]:
        """Environment variables that point the vendor's source at this simulator."""
        settings = {**self.settings(), "start_date": self.start_date().isoformat()}
        prefix = f"SOURCES__{self.name.upper()}__"
        return {prefix + key.upper(): value for key, value in settings.items()}

    def refuse(self, host: str, request: Request, args: dict[str, str]) -> Reply | None:
        """The answer to a request that must not reach its handler (bad credentials, …),
        or None; `args` are the route's path arguments."""
        return None

    # -- shared mechanics ---------------------------------------------------------------

    @property
    def servers(self) -> list[VendorServer]:
        return [self.host(host) for host in self.HOSTS]

    @property
    def base_url(self) -> str:
        """Where the API is: its first host and `API_PREFIX`."""
        return f"{self.host(self.HOSTS[0]).base_url}{self.API_PREFIX}"

    def host(self, name: str) -> VendorServer:
        return getattr(self, name)

    def plain(self) -> bool:
        """Every dialect knob at its default form (what the benchmark caches keep)."""
        return all(getattr(self, knob) == forms[0] for knob, forms in self.DIALECTS.items())

    def _authed(self, host: str, handler: Handler) -> Handler:
        def wrapped(request: Request, **args: str) -> Reply:
            refused = self.refuse(host, request, args)
            return refused if refused is not None else handler(request, **args)

        return wrapped


def stable_hash(*parts: Any) -> int:
    """A 64-bit hash of `parts` that is the same in every process (seeds the data)."""
    text = ":".join(str(part) for part in parts).encode()
    return int(hashlib.blake2b(text, digest_size=8).hexdigest(), 16)
