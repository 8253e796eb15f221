"""Local simulators of the vendor APIs, for the demo, the tests and the benchmarks.

    with Sandbox(rows=1_000) as sandbox:
        os.environ.update(sandbox.env())      # point the sources at it
        ...
        sandbox.kissmetrics.ground_truth()    # what a full load must contain

Every simulator listens on 127.0.0.1 on free ports (or from `port_base` on), serves
seeded, deterministic data of the requested size, and takes fault knobs at runtime
(`sandbox.kissmetrics.api.faults.error_burst = 3`) or from a `--faults` spec.

A vendor's simulator is a `Simulator` subclass (sandbox/simulator.py) in its own module
(with mixin modules beside it when it grows past 400 lines); adding a vendor is that
module and its line in `SIMULATORS`."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from sandbox.datawiz import DatawizSim
from sandbox.holistics import HolisticsSim
from sandbox.kissmetrics import KissmetricsSim
from sandbox.quantive import QuantiveSim
from sandbox.server import Faults, VendorServer
from sandbox.simulator import Simulator

# every simulator, in the order their hosts take ports; a new vendor is one line here
SIMULATORS: tuple[type[Simulator], ...] = (HolisticsSim, KissmetricsSim, DatawizSim, QuantiveSim)
VENDORS = tuple(sim.name for sim in SIMULATORS)
DEFAULT_DAYS = 28


class Sandbox:
    def __init__(
        self,
        rows: int = 3_000,
        *,
        vendors: tuple[str, ...] = VENDORS,
        days: int = DEFAULT_DAYS,
        port_base: int = 0,
        seed: int = 7,
    ) -> None:
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        self.data_end = now - timedelta(minutes=1)
        self.data_start = (now - timedelta(days=days)).replace(hour=0, minute=0)
        self.vendors = vendors
        self.port_base = port_base
        # a host that belongs to no vendor: tests point redirects and Locations at it
        self.foreign = VendorServer("foreign")
        self.sims: dict[str, Any] = {
            sim.name: sim(rows, data_start=self.data_start, data_end=self.data_end, seed=seed)
            for sim in SIMULATORS
            if sim.name in vendors
        }

    def __getattr__(self, vendor: str) -> Any:
        """`sandbox.kissmetrics`: the simulator of that vendor."""
        sims = self.__dict__.get("sims", {})
        if vendor in sims:
            return sims[vendor]
        raise AttributeError(vendor)

    @property
    def servers(self) -> list[VendorServer]:
        return [s for sim in self.sims.values() for s in sim.servers] + [self.foreign]

    def start(self) -> Sandbox:
        for offset, server in enumerate(self.servers):
            if self.port_base:
                server._port = self.port_base + offset
            server.start()
        return self

    def stop(self) -> None:
        for server in self.servers:
            server.stop()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env(self) -> dict[str, str]:
        """Environment variables that point every source at this sandbox."""
        env: dict[str, str] = {}
        for sim in self.sims.values():
            env.update(sim.env())
        return env

    def apply_faults(self, spec: str) -> None:
        """`vendor.knob=value,…`, e.g. `kissmetrics.error_rate=0.2,kissmetrics.job_latency=2`.

        A knob of the vendor's simulator (job_latency, never_complete, Holistics'
        per-endpoint `quota_window`, …) is set on it; the other knobs of `Faults` apply
        to every host of the vendor."""
        types = Faults.field_types()
        for item in filter(None, (part.strip() for part in spec.split(","))):
            try:
                target, value = item.split("=", 1)
                vendor, knob = target.split(".", 1)
                sim = self.sims[vendor]
            except (ValueError, KeyError):
                raise ValueError(f"bad fault {item!r}: want vendor.knob=value") from None
            if hasattr(sim, knob) and not knob.startswith("_"):
                current = getattr(sim, knob)
                setattr(sim, knob, _coerce(current, value))
            elif knob in types:
                for server in sim.servers:
                    setattr(server.faults, knob, types[knob](value))
            else:
                known = sorted(types) + [f.name for f in dataclasses.fields(Faults)]
                raise ValueError(f"unknown fault knob {knob!r}; known: {', '.join(known)}")

    def apply_dialect(self, vendor: str, case: str) -> None:
        """Switch a simulator to a dialect case of `dialect_cases`/`dialect_matrix`."""
        if case != "default":
            self.apply_faults(",".join(f"{vendor}.{item}" for item in case.split(",")))

    def served_429(self) -> int:
        return sum(server.served_429 for server in self.servers)


def dialect_cases(sim: type) -> list[str]:
    """Every dialect of a simulator once, as `apply_faults` items without the vendor:
    `"default"` (the first form of every knob), then `"knob=form"` for each other form.

    A simulator lists in `DIALECTS` (knob → forms, default first) each detail its vendor's
    doc leaves open or contradicts (docs/vendor-assumptions.md); a source's end-to-end
    tests run across these cases; `dialect_matrix` gives pairwise combinations."""
    return ["default"] + [
        f"{knob}={form}" for knob, forms in sim.DIALECTS.items() for form in forms[1:]
    ]


def dialect_matrix(sim: type) -> list[str]:
    """Cases, as comma-joined `knob=form` items, in which every form of every knob meets
    every form of every other knob at least once (pairwise coverage): the interactions
    between two open details, in a few dozen runs instead of the full cross product."""
    knobs = list(sim.DIALECTS.items())
    uncovered = {
        (a, fa, b, fb)
        for i, (a, forms_a) in enumerate(knobs)
        for b, forms_b in knobs[i + 1 :]
        for fa in forms_a
        for fb in forms_b
    }
    cases: list[dict[str, str]] = []
    while uncovered:
        # greedy: start from one uncovered pair, then give each other knob the form that
        # covers most of what is still uncovered
        a, fa, b, fb = min(uncovered)
        case = {a: fa, b: fb}
        for knob, forms in knobs:
            if knob not in case:
                case[knob] = max(
                    forms,
                    key=lambda form, knob=knob: sum(
                        (k, f, knob, form) in uncovered or (knob, form, k, f) in uncovered
                        for k, f in case.items()
                    ),
                )
        uncovered -= {(x, case[x], y, case[y]) for x, _ in knobs for y, _ in knobs if x != y}
        cases.append(case)
    if not cases:  # a single knob: each of its forms
        cases = [{knob: form} for knob, forms in knobs for form in forms]
    return [",".join(f"{knob}={case[knob]}" for knob, _ in knobs) for case in cases]


def _coerce(current: Any, value: str) -> Any:
    if isinstance(current, bool):
        return value.lower() in ("1", "true", "yes")
    if isinstance(current, int | float):
        return type(current)(value)
    if isinstance(current, set):
        return set(filter(None, value.split("|")))
    return value
