"""`python -m sandbox`: serve the simulated vendor APIs in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading

from sandbox import Sandbox
from sandbox.server import InFlight


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument(
        "--port-base", type=int, default=0, help="first port to listen on (default: free ports)"
    )
    parser.add_argument("--rows", type=int, default=3_000, help="rows per vendor dataset")
    parser.add_argument(
        "--faults",
        default="",
        help="fault spec, e.g. kissmetrics.error_rate=0.1,kissmetrics.job_latency=2",
    )
    args = parser.parse_args(argv)
    sandbox = Sandbox(rows=args.rows, port_base=args.port_base)
    try:
        sandbox.apply_faults(args.faults)
    except ValueError as exc:
        parser.error(str(exc))
    in_flight = InFlight()  # one count over every host: a client's concurrency spans them
    for server in sandbox.servers:
        server.in_flight = in_flight
    sandbox.start()
    print("sandbox listening; point the pipelines at it with:", flush=True)
    for key, value in sorted(sandbox.env().items()):
        print(f"export {key}={shlex.quote(value)}", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())

    def counts_so_far(*_: object) -> None:
        """For the benchmarks: a warm-up run's requests are not the measured run's."""
        print(in_flight.summary(), flush=True)
        in_flight.reset()

    signal.signal(signal.SIGUSR1, counts_so_far)
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()
        # for the benchmarks, which run the sandbox as a child and read this on exit
        print(f"served_429={sandbox.served_429()}", flush=True)
        print(in_flight.summary(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
