"""What the Quantive test modules share: a Quantive-only sandbox, a run with small pages
and batches, and what it loaded against the simulator's truth."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import pytest

from sandbox import Sandbox
from sandbox.quantive import QuantiveSim, kpi_id
from tests.conftest import Cli

# small pages and batches, so every list and range is fetched in several requests
SMALL = {
    "SOURCES__QUANTIVE__PAGE_SIZE": "5",
    "SOURCES__QUANTIVE__SNAPSHOT_BATCH_SIZE": "4",
    "SOURCES__QUANTIVE__SNAPSHOT_WINDOW_DAYS": "7",
    "SOURCES__QUANTIVE__LOOKBACK_DAYS": "2",
    "SOURCES__QUANTIVE__INSIGHT_IDS": '["insight-0", "insight-2"]',
}
CURSOR = "kpi_snapshots.snapshot_date"
V2 = {"SOURCES__QUANTIVE__V2_SNAPSHOTS": "true"}


@pytest.fixture
def quantive_sandbox() -> Iterator[Sandbox]:
    with Sandbox(rows=600, vendors=("quantive",)) as sb:
        yield sb


def run(cli: Cli, *args: str, **env: str):
    return cli("run", "quantive", *args, extra_env={**SMALL, **env})


def snapshots(cli: Cli) -> dict[tuple[str, str], float]:
    rows = cli.sql('SELECT kpi_id, "group", value FROM quantive.kpi_snapshots')
    loaded = {(k, g): v for k, g, v in rows}
    assert len(loaded) == len(rows), "duplicate (kpi_id, group) rows"
    return loaded


def count(cli: Cli, table: str) -> int:
    return cli.sql(f"SELECT count(*) FROM quantive.{table}")[0][0]


def summary(cli: Cli) -> dict:
    return json.loads((cli.tmp / "summary.json").read_text())["sources"][0]


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def today(qr: QuantiveSim) -> date:
    """The sandbox serves snapshots up to yesterday unless a test moves `snapshot_end`."""
    return qr.data_end.date()


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def projection_truth(qr: QuantiveSim, kpis: range) -> set[tuple[str, str, float]]:
    return {(kpi_id(i), p["id"], p["value"]) for i in kpis for p in qr.projections(i)}


def loaded_projections(cli: Cli) -> set[tuple[str, str, float]]:
    return set(cli.sql("SELECT kpi_id, id, value FROM quantive.kpi_projections"))
