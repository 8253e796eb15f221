"""Async jobs: 20 Holistics exports and 20 Kissmetrics report runs, each job taking
JOB_LATENCY s in the simulator, Holistics' documented quotas on; 20 jobs should take
about as long as one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pendulum

from bench.cases import HOLISTICS_EXPORTS_ONLY, KISSMETRICS_REPORT
from bench.harness import Runner, Sandbox, log, merged, pick

JOB_LATENCY = 2.0
JOBS = 20


def jobs(work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    served_429 = 0
    for source, settings, one, many in _selections():
        log(f"jobs: {source}, 1 job then {JOBS}")
        walls = {}
        # a fresh sandbox per run: quota windows must not carry over from one run to the next
        for label, selection in (("1", one), ("n", many)):
            faults = f"holistics.job_latency={JOB_LATENCY},kissmetrics.job_latency={JOB_LATENCY}"
            with Sandbox(23 * 500, faults) as sandbox:
                walls[label] = Runner(work, f"jobs_{source}_{label}").run(
                    source, merged(sandbox.env, settings, selection)
                )
            served_429 += sandbox.served_429
        out[source] = {
            "one": pick(walls["1"]),
            "many": pick(walls["n"]),
            "ratio": walls["n"]["wall"] / walls["1"]["wall"],
        }
    out["served_429"] = served_429
    return out


def _selections() -> list[tuple[str, dict[str, str], dict[str, str], dict[str, str]]]:
    """Per source: its settings, then the selection of one job and of JOBS jobs."""
    sales = [100 + 2 * i for i in range(JOBS)]  # any widgets: sales and plans
    today = pendulum.today("UTC")
    return [
        (
            "holistics",
            {
                **HOLISTICS_EXPORTS_ONLY,
                "SOURCES__HOLISTICS__POLL_INTERVAL": "0.25",
            },
            {"SOURCES__HOLISTICS__WIDGET_IDS": json.dumps(sales[:1])},
            {"SOURCES__HOLISTICS__WIDGET_IDS": json.dumps(sales)},
        ),
        (
            "kissmetrics",
            {
                "SOURCES__KISSMETRICS__REPORT_IDS": json.dumps([KISSMETRICS_REPORT]),
                "SOURCES__KISSMETRICS__WINDOW_DAYS": "1",
                "SOURCES__KISSMETRICS__POLL_INTERVAL": "0.25",
            },
            {"SOURCES__KISSMETRICS__START_DATE": today.to_date_string()},
            {"SOURCES__KISSMETRICS__START_DATE": today.subtract(days=JOBS - 1).to_date_string()},
        ),
    ]
