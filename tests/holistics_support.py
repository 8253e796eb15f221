"""What the Holistics test modules share: a Holistics-only sandbox, the settings that
narrow a run to its exports, and the exports' ground truth and loaded rows
(tests/truth.py reads them too)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from sandbox import Sandbox
from tests.conftest import Cli

INCREMENTAL_105 = {
    "SOURCES__HOLISTICS__WIDGETS": json.dumps(
        {"105": {"date_filter_id": 31, "primary_key": ["Row ID"], "lookback_days": 1}}
    )
}
# the metadata paths off, for tests about exports (the full loads cover the metadata)
EXPORTS_ONLY = {
    "SOURCES__HOLISTICS__WIDGET_SOURCES": "false",
    "SOURCES__HOLISTICS__DEPENDENCY_TYPES": "[]",
    "SOURCES__HOLISTICS__DATA_MODEL_PROJECTS": "[]",
    "SOURCES__HOLISTICS__USER_ATTRIBUTE_ENTRIES": "false",
}
SALES = "row_id, order_date, region, orders, revenue, code, note, created_at"
PLANS = "plan, users, share, active, updated"


@pytest.fixture
def holistics_sandbox() -> Iterator[Sandbox]:
    with Sandbox(rows=600, vendors=("holistics",)) as sb:
        yield sb


def widgets_of(sandbox: Sandbox, *dashboards: int) -> list[int]:
    return [w.id for d in dashboards for w in sandbox.holistics.widgets_of(d)]


def exported(sandbox: Sandbox) -> list[int]:
    """What the sandbox env asks for: dashboards 1 and 2, plus widget 105."""
    return [*widgets_of(sandbox, 1, 2), 105]


def _utc(value: datetime, fmt: str) -> str:
    return value.astimezone(UTC).strftime(fmt)


def loaded(cli: Cli, widget_id: int, sandbox: Sandbox) -> list[tuple]:
    """The loaded rows, written back the way the CSV wrote them."""
    if sandbox.holistics.widgets[widget_id].kind == "sales":
        rows = [
            (*r[:1], r[1].isoformat(), *r[2:7], _utc(r[7], "%Y-%m-%d %H:%M:%S"))
            for r in cli.sql(f"SELECT {SALES} FROM holistics.widget_{widget_id}")
        ]
    else:
        rows = [
            (*r[:3], "true" if r[3] else "false", _utc(r[4], "%Y-%m-%dT%H:%M:%SZ"))
            for r in cli.sql(f"SELECT {PLANS} FROM holistics.widget_{widget_id}")
        ]
    return sorted(rows, key=repr)


def truth(sandbox: Sandbox, widget_id: int, conditions: list | None = None) -> list[tuple]:
    return sorted((tuple(r) for r in sandbox.holistics.csv_rows(widget_id, conditions)), key=repr)


def errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def summary(cli: Cli) -> dict:
    return json.loads((cli.tmp / "s.json").read_text())["sources"][0]
