"""Kissmetrics' protocol in process: the source's client over real HTTP, no pipeline."""

from __future__ import annotations

import asyncio

import pendulum
import pytest

from sandbox import Sandbox
from sandbox.kissmetrics import REPORTS
from sources.common.errors import MalformedResponse
from sources.common.windows import Window
from sources.kissmetrics import column_names
from sources.kissmetrics.client import Client, session
from sources.kissmetrics.config import KissmetricsConfig


def fetch_all(sandbox: Sandbox, page_size: int = 1000) -> dict[str, list[tuple]]:
    """Every report's rows over one window covering all the sandbox's data, as the
    source's client reads them (list, run, poll, page, tables)."""
    km = sandbox.kissmetrics
    config = KissmetricsConfig(
        api_token=km.token,
        api_url=km.api.base_url,
        query_url=km.query.base_url,
        page_size=page_size,
        poll_interval=0.01,
    ).checked()
    window = Window(
        pendulum.instance(sandbox.data_start).subtract(days=1),
        pendulum.now("UTC").add(days=1),
        complete=False,
    )

    async def run() -> dict[str, list[tuple]]:
        found: dict[str, list[tuple]] = {}
        async with session(config) as http:
            client = Client(http, config)
            for report in await client.list_reports():
                rows: list[tuple] = []
                async for _, table in client.run_report(report, window, column_names(report, {})):
                    rows += [tuple(row.values()) for row in table.to_pylist()]
                found[report["name"]] = sorted(rows, key=repr)
        return found

    return asyncio.run(run())


@pytest.mark.parametrize(
    ("fault", "value", "pagination", "message"),
    [
        ("ignore_offset", True, "present", "already sent at skip 0"),
        ("ignore_offset", True, "absent", "offset 5 repeats"),
        ("total_skew", 3, "present", "empty results page at offset 20 of 23"),
        ("total_skew", -3, "present", "announced 17 record(s) and sent 20"),
        ("total_skew", -5, "present", "says 15 but the host has rows at offset 15"),
    ],
)
def test_a_window_whose_pages_do_not_add_up_fails(
    sandbox: Sandbox, fault: str, value: object, pagination: str, message: str
) -> None:
    km = sandbox.kissmetrics
    km.data = {REPORTS[0].id: km.data[REPORTS[0].id]}  # one report of 20 rows, pages of 5
    km.data[REPORTS[0].id].n = 20
    km.pagination = pagination
    setattr(km, fault, value)

    with pytest.raises(MalformedResponse) as failure:
        fetch_all(sandbox, page_size=5)

    assert message in failure.value.line()
    assert "GET /v2/queries/" in failure.value.line()
