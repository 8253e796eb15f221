"""The fault matrix: every source × every fault the sandbox can inject, end to end.

Each cell runs the real CLI against a one-vendor sandbox with the fault switched on and
asserts its documented outcome (docs/fault-matrix.md):
- recovered: exit 0 and the destination equals the sandbox's ground truth (tests/truth.py);
- failed: a good run first, then the faulty run exits with the expected code and one
  `error:` line naming the cause, no traceback, and the destination's data exactly as
  after the good run. Then the fault clears and a rerun ends at the ground truth.
Faults a source's protocol cannot have are "n/a" in the docs, not faked here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sandbox import Sandbox
from sandbox.server import Faults
from tests.conftest import Cli, CliResult
from tests.faults_support import (
    Case,
    body_fault,
    empty_cursor_page,
    foreign_next_link,
    intercept,
    json_edit,
    later_page,
    main_server,
    no_credentials_abroad,
    on,
    on_all,
    once,
    redirect_to_foreign,
    served_429,
    sim_knob,
)
from tests.truth import DLT_IDS, HISTORY, SNAPSHOTS, assert_truth, data_tables

ROWS = 200
SOURCES = ("datawiz", "holistics", "quantive", "kissmetrics")


# -- the matrix ---------------------------------------------------------------------------

SLOW_READ = {f"SOURCES__{s.upper()}__HTTP__READ_TIMEOUT": "0.3" for s in SOURCES} | {
    f"SOURCES__{s.upper()}__HTTP__MAX_ATTEMPTS": "2" for s in SOURCES
}
JOB_TIMEOUT = {"SOURCES__HOLISTICS__JOB_TIMEOUT": "0.5", "SOURCES__KISSMETRICS__JOB_TIMEOUT": "0.5"}
KM_PAGES = {"SOURCES__KISSMETRICS__PAGE_SIZE": "10"}
HOL_PAGES = {"SOURCES__HOLISTICS__PAGE_SIZE": "10"}
QR_PAGES = {"SOURCES__QUANTIVE__PAGE_SIZE": "3"}
DW_PAGES = {"SOURCES__DATAWIZ__PAGE_SIZE": "9"}

CASES: list[Case] = []
for _source in SOURCES:
    CASES += [
        Case("429_storm", _source, on_all(rate_limit_burst=3, retry_after=0.05), check=served_429),
        Case("5xx_burst", _source, on_all(error_burst=3)),
        Case("reset_mid_body", _source, on_all(reset_bodies=2)),
        Case(
            "read_timeout",
            _source,
            lambda sb, s=_source: setattr(main_server(sb, s).faults, "slow_seconds", 1.0),
            1,
            "ReadTimeout after 2 attempts",
            SLOW_READ,
        ),
        Case(
            "truncated_json", _source, body_fault(_source, "truncated_bodies"), 1, "expected JSON"
        ),
        Case("html_200", _source, body_fault(_source, "html_bodies"), 1, "expected JSON"),
    ]
CASES += [
    # quota: RateLimit-* headers, a window of 1 s, fewer requests than a run needs
    Case("quota", "datawiz", on("datawiz", "api", quota_limit=6, quota_window=1.0)),
    Case(
        "quota",
        "holistics",
        sim_knob("holistics", levels={1: 8, 2: 4, 3: 3}, quota_window=1.0),
        env=HOL_PAGES,
    ),
    Case("quota", "quantive", on("quantive", "api", quota_limit=10, quota_window=1.0)),
    Case("quota", "kissmetrics", on("kissmetrics", "query", quota_limit=20, quota_window=1.0)),
    # CSV: only Holistics exports CSV (a cut-off chunked download)
    Case("truncated_csv", "holistics", on("holistics", "storage", truncated_bodies=2)),
    # an empty page in the middle of pagination
    Case(
        "empty_page",
        "datawiz",
        intercept(
            "datawiz",
            "api",
            "create-table",
            once(
                json_edit(lambda b: b["results"].__setitem__("dataSource", [])),
                later_page("page"),
            ),
        ),
        1,
        "empty",
        DW_PAGES,
    ),
    Case(
        "empty_page",
        "holistics",
        intercept(
            "holistics",
            "api",
            "/users",
            once(
                empty_cursor_page,
                lambda r: r.path.endswith("/users") and r.arg("after") is not None,
            ),
        ),
        1,
        "repeated",
        HOL_PAGES,
    ),
    Case(
        "empty_page",
        "quantive",
        intercept(
            "quantive",
            "api",
            "/v2/kpis",
            once(json_edit(lambda b: b.__setitem__("items", [])), later_page("skip")),
        ),
        1,
        "empty page at skip",
        QR_PAGES,
    ),
    Case(
        "empty_page",
        "kissmetrics",
        intercept(
            "kissmetrics",
            "query",
            "/results",
            once(json_edit(lambda b: b.__setitem__("data", [])), later_page("offset")),
        ),
        1,
        "empty results page at offset",
        KM_PAGES,
    ),
    # a token expiring mid-run: Datawiz's OAuth access token (the others use static keys)
    Case("token_expiry", "datawiz", sim_knob("datawiz", expire_after_calls=6), env=DW_PAGES),
    # async jobs
    Case(
        "job_failed",
        "holistics",
        sim_knob("holistics", fail_widgets={"101"}),
        1,
        "ended failure",
    ),
    Case(
        "job_cancelled",
        "holistics",
        sim_knob("holistics", cancel_widgets={"102"}),
        1,
        "cancelled",
    ),
    Case(
        "job_never_finishes",
        "holistics",
        sim_knob("holistics", job_latency=3600.0),
        1,
        "did not finish within 0.5 s",
        JOB_TIMEOUT,
    ),
    Case(
        "job_never_finishes",
        "kissmetrics",
        lambda sb: setattr(sb.kissmetrics, "never_complete", {r for r in sb.kissmetrics.data}),
        1,
        "did not finish within 0.5 s",
        JOB_TIMEOUT,
    ),
    # a redirect or a Location to a host that is not the vendor's
    Case(
        "foreign_host",
        "datawiz",
        intercept("datawiz", "api", "create-table", once(foreign_next_link, lambda r: True)),
        1,
        "foreign host",
        DW_PAGES,
        no_credentials_abroad,
    ),
    Case(
        "foreign_host",
        "holistics",
        intercept("holistics", "api", "/exports/download", redirect_to_foreign),
        1,
        "HTTP 404",
        check=no_credentials_abroad,
    ),
    Case(
        "foreign_host",
        "quantive",
        intercept("quantive", "api", "/v2/kpis", redirect_to_foreign),
        1,
        "HTTP 404",
        check=no_credentials_abroad,
    ),
    Case(
        "foreign_host",
        "kissmetrics",
        lambda sb: setattr(sb.kissmetrics, "foreign_location", sb.foreign.base_url),
        1,
        "foreign host",
        check=no_credentials_abroad,
    ),
]
CASES.sort(key=lambda c: (SOURCES.index(c.source), c.fault))

# The normal run takes one cell per fault (the bugs this matrix found among them);
# `make test-full` runs every cell.
SAMPLE = {
    "429_storm-kissmetrics",
    "5xx_burst-quantive",
    "reset_mid_body-holistics",
    "read_timeout-datawiz",
    "truncated_json-quantive",
    "html_200-holistics",
    "quota-quantive",
    "truncated_csv-holistics",
    "empty_page-datawiz",
    "empty_page-holistics",
    "token_expiry-datawiz",
    "job_failed-holistics",
    "job_never_finishes-kissmetrics",
    "foreign_host-kissmetrics",
}
for _case in CASES:
    _case.slow = _case.id not in SAMPLE


def clear(sb: Sandbox, routes: dict[str, list]) -> None:
    """Every fault off, every simulator knob back to normal, every route restored."""
    for server in sb.servers:
        server.faults = Faults()
        server._routes[:] = routes[server.name]
    for sim in sb.sims.values():
        for knob, value in (
            ("expire_after_calls", None),
            ("never_complete", set()),
            ("foreign_location", None),
            ("fail_widgets", set()),
            ("cancel_widgets", set()),
            ("job_latency", 0.0),
            ("quota_window", 0.0),  # Holistics' per-endpoint quotas: off, see below
        ):
            if hasattr(sim, knob):
                setattr(sim, knob, value)
        if hasattr(sim, "levels"):
            from sandbox.holistics import LEVELS

            sim.levels = dict(LEVELS)


def contents(cli: Cli, source: str) -> dict[str, list[tuple]]:
    """Every data table's rows, dlt's ids aside, in a stable order."""
    found = {}
    for table in data_tables(cli, source):
        columns = [
            r[0]
            for r in cli.sql(
                "SELECT column_name FROM information_schema.columns "
                f"WHERE table_schema = '{source}' AND table_name = '{table}' ORDER BY 1"
            )
            if r[0] not in (*DLT_IDS, "_dlt_parent_id")
        ]
        listed = ", ".join(f'"{c}"' for c in columns)
        found[table] = sorted(cli.sql(f'SELECT {listed} FROM {source}."{table}"'), key=repr)
    return found


def assert_unchanged(before: dict, after: dict, source: str) -> None:
    """The data as after the last good run: a per-window snapshot table may have gained
    the window this run fetched, a history table the jobs this run ran (the parts that did
    not fail commit), nothing else."""
    grows = {*SNAPSHOTS.get(source, {}), *HISTORY.get(source, ())}
    assert set(after) == set(before)
    for table, rows in before.items():
        if table in grows:
            assert set(rows) <= set(after[table]), table
        else:
            assert after[table] == rows, table


def error_lines(result: CliResult) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error:")]


def params() -> list[Any]:
    return [
        pytest.param(case, id=case.id, marks=[pytest.mark.slow] if case.slow else [])
        for case in CASES
    ]


@pytest.mark.parametrize("case", params())
def test_fault(case: Case, tmp_path: Path) -> None:
    with Sandbox(rows=ROWS, vendors=(case.source,)) as sb:
        cli = Cli(tmp_path, sb.env())
        if case.source == "holistics":  # three runs would exhaust its per-minute export
            sb.holistics.quota_window = 0.0  # quota and wait a minute (the quota cell: on)
        routes = {server.name: list(server._routes) for server in sb.servers}
        run = lambda: cli("run", case.source, extra_env=case.env)  # noqa: E731
        if case.code:
            good = run()
            assert good.code == 0, good.output
            before = contents(cli, case.source)

        case.inject(sb)
        faulty = run()

        assert "Traceback" not in faulty.stderr, faulty.stderr
        if case.check:
            case.check(sb, faulty)
        if not case.code:
            assert faulty.code == 0, faulty.output
            assert not error_lines(faulty)
            assert_truth(cli, sb, case.source)
            return
        assert faulty.code == case.code, faulty.output
        errors = error_lines(faulty)
        assert errors and case.message in errors[0], faulty.stderr
        assert all(len(line) < 600 for line in errors)
        assert_unchanged(before, contents(cli, case.source), case.source)

        clear(sb, routes)
        healed = run()
        assert healed.code == 0, healed.output
        assert_truth(cli, sb, case.source)


def test_schema_drift_between_runs_keeps_every_row_and_heals(tmp_path: Path) -> None:
    """Kissmetrics' sandbox drifts a report's schema; the other vendors' simulators cannot."""
    daily = {"SOURCES__KISSMETRICS__WINDOW_DAYS": "1", "SOURCES__KISSMETRICS__LOOKBACK_DAYS": "1"}
    table = "kissmetrics.report_signups_by_channel"
    with Sandbox(rows=ROWS, vendors=("kissmetrics",)) as sb:
        cli = Cli(tmp_path, sb.env())
        assert cli("run", "kissmetrics", extra_env=daily).code == 0
        sb.kissmetrics.set_drift("change_type")

        drifted = cli("run", "kissmetrics", extra_env=daily)

        assert drifted.code == 0, drifted.output
        assert_truth(cli, sb, "kissmetrics")  # counts, no doubles, the other reports exact
        assert cli.sql(f"SELECT count(*) FROM {table} WHERE revenue__v_text IS NOT NULL")[0][0]
        sb.kissmetrics.set_drift("")
        healed = cli("run", "kissmetrics", extra_env=daily)
        assert healed.code == 0, healed.output
        assert_truth(cli, sb, "kissmetrics")  # every report exact again
