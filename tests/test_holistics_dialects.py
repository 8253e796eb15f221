"""Holistics in every dialect the simulator speaks: full loads page every list and
export byte-exact, and an exceeded quota is waited out."""

from __future__ import annotations

import json
import re

import pendulum
import pytest

from sandbox import Sandbox, dialect_cases, dialect_matrix
from sandbox.holistics import N_USERS, HolisticsSim
from sandbox.server import Recorded
from tests import holistics_support
from tests.conftest import Cli
from tests.holistics_support import EXPORTS_ONLY, INCREMENTAL_105, exported, loaded, summary, truth
from tests.test_holistics_metadata import LISTED, assert_tables, jobs_truth, metadata_truth

sandbox = holistics_support.holistics_sandbox  # these tests run against a Holistics-only sandbox


PAGED = {"SOURCES__HOLISTICS__PAGE_SIZE": "10"}


def ids_asked(request: Recorded) -> list[str]:
    """The job ids of a List Jobs request, however they were spelt."""
    plain = request.query.get("ids", [])
    return request.query.get("ids[]", []) + [i for v in plain for i in v.split(",")]


# Knobs that touch only the exports and their jobs, and knobs that touch only the
# metadata objects: their cases run the other part switched off (the default case and
# `last_cursor`, which every list reads, run everything). `reset_format` is left to
# test_an_exceeded_quota_is_waited_out_with_all_data, which waits on both forms.
EXPORT_KNOBS = {"download", "job_states", "job_ids", "output_param", "row_count"}
OBJECT_KNOBS = {"object_links", "dependants", "include_maps"}
NO_EXPORTS = {"SOURCES__HOLISTICS__DASHBOARD_IDS": "[]", "SOURCES__HOLISTICS__WIDGET_IDS": "[]"}


@pytest.mark.parametrize(
    "dialect", [c for c in dialect_cases(HolisticsSim) if not c.startswith("reset_format=")]
)
def test_full_load_pages_every_list_and_exports_byte_exact(
    cli: Cli, sandbox: Sandbox, dialect: str
) -> None:
    hol = sandbox.holistics
    sandbox.apply_dialect("holistics", dialect)
    hol.job_latency = 0.3
    knob = dialect.split("=")[0]
    settings = {**PAGED, **INCREMENTAL_105}  # snapshots, and one incremental widget
    settings |= EXPORTS_ONLY if knob in EXPORT_KNOBS else {}
    settings |= NO_EXPORTS if knob in OBJECT_KNOBS else {}

    result = cli("run", "holistics", "--summary-json", str(cli.tmp / "s.json"), extra_env=settings)

    assert result.code == 0, result.output
    # every metadata table and every export job's history, row for row
    expected = metadata_truth(hol) | jobs_truth(hol)
    assert_tables(cli, {t: expected[t] for t in LISTED} if knob in EXPORT_KNOBS else expected)
    # several pages each, walked with the documented cursor, limit as configured (twice
    # with user attribute entries, whose subjects are every user and group)
    walks = 1 if knob in EXPORT_KNOBS else 2
    pages = [r for r in hol.api.seen("/api/v2/users", "GET") if r.path == "/api/v2/users"]
    assert len(pages) == walks * -(-N_USERS // 10)
    assert all(r.query["limit"] == ["10"] for r in pages)
    assert sum("after" in r.query for r in pages) == len(pages) - walks
    # nested filters as a child table
    assert cli.sql("SELECT count(*) FROM holistics.dashboards__dynamic_filters") == [
        (2 * len(hol.dashboards),)
    ]
    # the key went to every API request, never to the storage host
    assert all(r.headers.get("x-holistics-key") == hol.api_key for r in hol.api.requests)
    assert rate_limited(cli) == 0
    if knob not in OBJECT_KNOBS:
        assert_exports_exact(cli, sandbox)


def assert_exports_exact(cli: Cli, sandbox: Sandbox) -> None:
    """Every export of the sandbox's settings loaded value for value, fetched as the
    protocol says, submitted and polled together."""
    hol = sandbox.holistics
    # every exported widget, value for value (BOM, quotes, line breaks, NULL vs "")
    for widget_id in exported(sandbox):
        assert loaded(cli, widget_id, sandbox) == truth(sandbox, widget_id), widget_id
    notes = {r[0] for r in cli.sql("SELECT note FROM holistics.widget_100")}
    assert {"line\nbreak", "crlf\r\nbreak", "", None, 'quote "inside" here'} <= notes
    assert cli.sql("SELECT code FROM holistics.widget_100 WHERE code LIKE '0%' LIMIT 1")
    types = dict(
        cli.sql(
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'holistics' AND table_name = 'widget_100'"
        )
    )
    assert types["order_date"] == "DATE" and types["orders"] == "BIGINT"
    assert types["revenue"] == "DOUBLE" and types["code"] == "VARCHAR"
    # the file came from storage, which never saw the key
    fetched = [r for r in hol.storage.requests if r.status == 200]
    assert len(fetched) == (0 if hol.download == "direct" else len(exported(sandbox)))
    assert len(hol.storage.requests) == len(fetched)  # no signature refused
    assert not [r for r in hol.storage.requests if "x-holistics-key" in r.headers]
    # submitted together (each before any export is downloaded, however loaded the
    # machine), polled together through List Jobs
    arrived = [r.path for r in hol.api.requests]
    submits = [i for i, path in enumerate(arrived) if path.endswith("/submit_export")]
    downloads = [i for i, path in enumerate(arrived) if path.endswith("/exports/download")]
    assert len(submits) == len(exported(sandbox)) and max(submits) < min(downloads)
    polls = [r for r in hol.api.seen("/api/v2/jobs", "GET") if r.path == "/api/v2/jobs"]
    if hol.job_ids != "unsupported":
        asked = [set(ids_asked(r)) for r in polls if r.status == 200]
        assert set().union(*asked) == {str(job) for job in hol.jobs}  # all through List Jobs
        assert max(map(len, asked)) > 1  # in batches, not a request per job
    if hol.job_ids == "rails_array":
        # pauses grow from 20 ms by 1.5x: over the 0.3 s latency plus up to a second of
        # scheduling delay that is at most 10 rounds (a fixed 20 ms pause would take 65)
        assert len(polls) <= 10
        one_by_one = [r for r in hol.api.requests if re.fullmatch(r"/api/v2/jobs/\d+", r.path)]
        assert not one_by_one  # no job polled one by one
    today = pendulum.today("UTC").to_date_string()
    assert summary(cli)["cursors_after"] == {"widget_exports.105": today}


def rate_limited(cli: Cli) -> int:
    return json.loads((cli.tmp / "s.json").read_text())["sources"][0]["rate_limited"]


@pytest.mark.parametrize("reset_format", HolisticsSim.DIALECTS["reset_format"])
def test_an_exceeded_quota_is_waited_out_with_all_data(
    cli: Cli, sandbox: Sandbox, reset_format: str
) -> None:
    hol = sandbox.holistics
    hol.reset_format = reset_format  # `next_reset_time`: seconds to wait, or a Unix time
    hol.levels = {1: 8, 2: 4, 3: 3}
    hol.quota_window = 1.0
    hol.spent_quota = 8  # another client of the user spent every route's first window
    hol.job_latency = 0.2

    settings = {**PAGED, **EXPORTS_ONLY}
    result = cli("run", "holistics", "--summary-json", str(cli.tmp / "s.json"), extra_env=settings)

    assert result.code == 0, result.output
    assert cli.sql("SELECT count(*) FROM holistics.users") == [(N_USERS,)]
    for widget_id in exported(sandbox):
        assert loaded(cli, widget_id, sandbox) == truth(sandbox, widget_id)
    assert hol.api.served_429 >= 6  # one per route at least: the quota was exceeded
    assert rate_limited(cli) == hol.api.served_429


@pytest.mark.slow
@pytest.mark.parametrize("dialects", dialect_matrix(HolisticsSim), ids=str)
def test_every_combination_of_dialects_loads_exactly(
    cli: Cli, sandbox: Sandbox, dialects: str
) -> None:
    sandbox.apply_dialect("holistics", dialects)

    result = cli("run", "holistics")

    assert result.code == 0, result.output
    assert_tables(cli, metadata_truth(sandbox.holistics) | jobs_truth(sandbox.holistics))
    for widget_id in exported(sandbox):
        assert loaded(cli, widget_id, sandbox) == truth(sandbox, widget_id), widget_id
