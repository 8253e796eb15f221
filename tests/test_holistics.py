"""Holistics end to end: the real CLI, over real HTTP, against the sandbox, into DuckDB."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pendulum
import pyarrow as pa
import pytest

from sandbox import Sandbox, dialect_cases, dialect_matrix
from sandbox.holistics import N_USERS, HolisticsSim
from sandbox.server import Recorded
from sources.common.csv_arrow import inspect_csv, read_csv_tables
from sources.holistics import resolve_base_url
from tests.conftest import Cli, serving
from tests.test_holistics_metadata import LISTED, assert_tables, jobs_truth, metadata_truth

PAGED = {"SOURCES__HOLISTICS__PAGE_SIZE": "10"}
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
def sandbox() -> Iterator[Sandbox]:
    with serving(Sandbox(rows=600, vendors=("holistics",))) as sb:
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


def test_a_failed_cancelled_unknown_or_short_export_fails_its_widget_and_keeps_its_snapshot(
    cli: Cli, sandbox: Sandbox
) -> None:
    hol = sandbox.holistics
    assert cli("run", "holistics", extra_env=EXPORTS_ONLY).code == 0
    kept = {w: loaded(cli, w, sandbox) for w in (101, 102, 103, 104)}
    changed = hol.row(hol.widgets[100], 3)
    changed[6] = "revised"
    hol.revise(100, 3, changed)
    hol.revise(101, 0, ["gone", 1, 0.5, "true", "2026-01-01T00:00:00Z"])
    hol.fail_widgets, hol.cancel_widgets = {"101"}, {"102"}
    hol.odd_status_widgets = {"103"}  # ends in a state nobody documents
    hol.short_widgets, hol.row_count = {"104"}, "job_field"  # a row the job counted is lost

    result = cli("run", "holistics", extra_env=EXPORTS_ONLY)  # job_timeout is 30 min

    assert result.code == 1
    lines = {line.split(":")[2].strip(): line for line in errors(result)}
    assert set(lines) == {"widget_101", "widget_102", "widget_103", "widget_104"}, result.stderr
    assert "ended failure" in lines["widget_101"]
    assert 'relation "sales" does not exist' in lines["widget_101"]
    assert "cancelled" in lines["widget_102"]
    assert "'archived'" in lines["widget_103"] and "does not know" in lines["widget_103"]
    rows = len(truth(sandbox, 104))
    assert f"announced {rows} record(s) and sent {rows - 1}" in lines["widget_104"]
    assert "Traceback" not in result.stderr
    assert {w: loaded(cli, w, sandbox) for w in kept} == kept  # the last good snapshots stay
    assert loaded(cli, 100, sandbox) == truth(sandbox, 100)  # replaced, not doubled
    assert cli.sql("SELECT note FROM holistics.widget_100 WHERE row_id = 4") == [("revised",)]
    assert_tables(cli, jobs_truth(hol))  # every job of both runs, failed ones with their logs


def test_exports_that_empty_drift_or_repeat_a_column_name_keep_every_value(
    cli: Cli, sandbox: Sandbox
) -> None:
    hol = sandbox.holistics
    one = {
        **EXPORTS_ONLY,
        "SOURCES__HOLISTICS__DASHBOARD_IDS": "[1]",  # widgets 100 and 101
        "SOURCES__HOLISTICS__WIDGET_IDS": "[105]",
    }
    assert cli("run", "holistics", extra_env=one).code == 0
    assert loaded(cli, 100, sandbox)
    future = {"operator": "between", "values": ["2099-01-01", "2099-01-02"]}
    nothing = [{"dynamic_filter_id": 11, "condition": future}]  # dashboard 1's date filter
    row = hol.row(hol.widgets[105], 3)
    hol.revise(105, 3, [*row[:3], "n/a", *row[4:]])  # `Orders` is no longer a number
    hol.clashing_header = True  # widget 101's header: Plan, PLAN, _widget_id, Active, Updated
    settings = {**one, "SOURCES__HOLISTICS__WIDGETS": json.dumps({"100": {"filters": nothing}})}

    result = cli("run", "holistics", extra_env=settings)

    assert result.code == 0, result.output
    assert truth(sandbox, 100, nothing) == []
    assert loaded(cli, 100, sandbox) == []  # the vendor has no rows: neither has the table
    got = dict(cli.sql("SELECT row_id, orders__v_text FROM holistics.widget_105"))
    assert got == {r[0]: str(r[3]) for r in truth(sandbox, 105)}
    assert got[4] == "n/a"
    got = cli.sql(
        "SELECT plan, plan__vendor, _widget_id__vendor, active, _widget_id "
        "FROM holistics.widget_101"
    )
    want = [(p, same, marker, a == "true", 101) for p, same, marker, a, _ in truth(sandbox, 101)]
    assert sorted(got, key=repr) == sorted(want, key=repr)


def test_incremental_widget_asks_for_its_window_and_merges_on_keys(
    cli: Cli, sandbox: Sandbox
) -> None:
    hol = sandbox.holistics
    widget_sources = {k: v for k, v in EXPORTS_ONLY.items() if not k.endswith("WIDGET_SOURCES")}
    settings = {**INCREMENTAL_105, **widget_sources, "SOURCES__HOLISTICS__DASHBOARD_IDS": "[]"}
    read = (*LISTED, "query_reports", "data_sets", "data_sources")
    assert cli("run", "holistics", extra_env=settings).code == 0
    assert_tables(cli, {t: metadata_truth(hol)[t] for t in read})
    today = pendulum.today("UTC").to_date_string()
    start = sandbox.data_start.date().isoformat()
    assert hol.exports[-1][1][0]["condition"] == {"operator": "between", "values": [start, today]}
    assert loaded(cli, 105, sandbox) == truth(sandbox, 105)
    widget = hol.widgets[105]
    last = widget.rows - 1
    row = hol.row(widget, last)
    row[3] = 123_456
    hol.revise(105, last, row)
    first = hol.row(widget, 0)  # outside the lookback window: not asked for again
    hol.revise(105, 0, [*first[:3], 7, *first[4:]])
    # meanwhile Holistics deletes a schedule, an alert, and a report widget 100 still shows
    hol.removed = {"data_schedules": {5}, "data_alerts": {3}}
    hol.deleted_reports = {"5100"}

    rerun = cli("run", "holistics", "--summary-json", str(cli.tmp / "s.json"), extra_env=settings)

    assert rerun.code == 0, rerun.output
    assert_tables(cli, {t: metadata_truth(hol)[t] for t in read})  # the deleted are gone
    [skipped] = summary(cli)["skipped"]  # a report named but gone is said, not a failure
    assert skipped.startswith("query_reports: query report 5100 (behind widget 100 of")
    assert "HTTP 404" in skipped and f"skipped: {skipped}" in rerun.stdout

    window = hol.exports[-1][1]
    yesterday = pendulum.today("UTC").subtract(days=1).to_date_string()
    assert window[0]["condition"]["values"] == [yesterday, today]
    assert cli.sql("SELECT count(*), count(DISTINCT row_id) FROM holistics.widget_105") == [
        (widget.rows, widget.rows)
    ]  # merged on the key: nothing doubled
    orders = dict(cli.sql("SELECT row_id, orders FROM holistics.widget_105"))
    assert orders[last + 1] == 123_456 and orders[1] == first[3]


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


def summary(cli: Cli) -> dict:
    return json.loads((cli.tmp / "s.json").read_text())["sources"][0]


def test_a_job_answer_in_an_unknown_shape_fails_its_widget_and_holds_its_cursor(
    cli: Cli, sandbox: Sandbox
) -> None:
    hol = sandbox.holistics
    settings = {**INCREMENTAL_105, **EXPORTS_ONLY, "SOURCES__HOLISTICS__DASHBOARD_IDS": "[]"}
    hol.unknown_shape = True  # the job endpoints answer a JSON:API body

    result = cli("run", "holistics", "--summary-json", str(cli.tmp / "s.json"), extra_env=settings)

    assert result.code == 1, result.output
    assert len(errors(result)) == 1, result.stderr
    line = errors(result)[0]
    assert "holistics" in line and "widget_105" in line and "GET /jobs" in line
    assert "keys [data]" in line and "attributes" in line  # what was seen
    assert "Traceback" not in result.stderr
    tables = {r[0] for r in cli.sql("SELECT table_name FROM information_schema.tables")}
    assert "widget_105" not in tables  # nothing of the export loaded
    ran = summary(cli)
    assert not any("105" in key for key in ran["cursors_after"])  # the cursor held
    assert ran["cursors_after"] == ran["cursors_before"]

    hol.unknown_shape = False
    rerun = cli("run", "holistics", "--summary-json", str(cli.tmp / "s.json"), extra_env=settings)

    assert rerun.code == 0, rerun.output
    assert loaded(cli, 105, sandbox) == truth(sandbox, 105)
    assert any("105" in key for key in summary(cli)["cursors_after"])


def test_a_wrong_key_exits_3_and_prints_no_secret(cli: Cli, sandbox: Sandbox) -> None:
    wrong = "wrong-holistics-key-8d1f2a"
    for command in (
        ["run", "holistics", "--summary-json", str(cli.tmp / "s.json")],
        ["check", "holistics"],
    ):
        result = cli(*command, extra_env={"SOURCES__HOLISTICS__API_KEY": wrong})
        assert result.code == 3, result.output
        assert "AuthError: Could not authorize" in result.stderr
        for secret in (wrong, sandbox.holistics.api_key):
            assert secret not in result.output
    assert wrong not in (cli.tmp / "s.json").read_text()
    assert cli("check", "holistics").code == 0


def test_error_bodies_become_one_line_by_type(cli: Cli, sandbox: Sandbox) -> None:
    hol = sandbox.holistics
    hol.internal_errors = 50  # outlasts the retries
    failed = cli("run", "holistics", extra_env=EXPORTS_ONLY)
    assert failed.code == 1
    lines = errors(failed)
    assert lines and all("InternalHolisticsError" in line for line in lines), failed.stderr
    assert "debug id" in lines[0] and "GET /api/v2/" in lines[0]
    assert "Traceback" not in failed.stderr

    hol.internal_errors = 0
    hol.forbidden_widgets = {"104"}
    denied = cli("run", "holistics", extra_env=EXPORTS_ONLY)
    assert denied.code == 3
    assert "PermissionDeniedError on dashboard widget 104" in denied.stderr
    assert "Traceback" not in denied.stderr


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("REGION", "mars", "region"),
        ("PAGE_SIZE", "500", "page_size"),
        ("EXPORT_FILTERS", '[{"condition": {}}]', "export_filters"),
        ("WIDGETS", '{"7": {"date_filter_id": 3}}', "widgets.7"),
        ("LIST_FILTERS", '{"users": {"status": "gone"}}', "list_filters.users.status"),
        ("DATA_MODEL_PROJECTS", "[99]", "data_model_projects"),  # a project Holistics refuses
    ],
)
def test_bad_settings_exit_2_naming_the_key(cli: Cli, key: str, value: str, named: str) -> None:
    result = cli("run", "holistics", extra_env={f"SOURCES__HOLISTICS__{key}": value})
    assert result.code == 2, result.output
    assert named in result.stderr and "Traceback" not in result.stderr


def test_region_picks_the_documented_host() -> None:
    assert resolve_base_url(None, None) == "https://secure.holistics.io/api/v2"
    assert resolve_base_url(None, "apac") == "https://secure.holistics.io/api/v2"
    assert resolve_base_url(None, "EU") == "https://eu.holistics.io/api/v2"
    assert resolve_base_url(None, "us") == "https://us.holistics.io/api/v2"
    assert resolve_base_url("http://127.0.0.1:9/api/v2", "us") == "http://127.0.0.1:9/api/v2"


def test_csv_types_hold_across_blocks(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    lines = ["\ufeffid,amount,code,when"]
    lines += [f"{i},{i}.5,{i:05d},2026-01-0{1 + i % 9}" for i in range(2_000)]
    lines.append('n/a,,"",')
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

    layout = inspect_csv(path, block_size=4_096)
    tables = list(read_csv_tables(path, layout, block_size=4_096, table_rows=1))
    gathered = list(read_csv_tables(path, layout, block_size=4_096, table_rows=1_000))

    assert len(tables) > 3 and layout.rows == 2_001
    assert len(gathered) == 2 and gathered[0].num_rows >= 1_000  # blocks of ~200 rows gathered
    assert pa.concat_tables(gathered).equals(pa.concat_tables(tables))
    assert layout.types == [pa.string(), pa.float64(), pa.string(), pa.date32()]
    assert layout.names == ["id", "amount", "code", "when"]
    last = tables[-1].to_pylist()[-1]
    assert last == {"id": "n/a", "amount": None, "code": "", "when": None}
    with duckdb.connect() as con:
        blocks = pa.concat_tables(tables)  # noqa: F841 - read by DuckDB below
        assert con.sql("SELECT count(*), max(code) FROM blocks").fetchone() == (2_001, "01999")


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


def test_dashboard_widgets_the_key_may_not_export_are_skipped_and_listed(
    cli: Cli, sandbox: Sandbox
) -> None:
    """A widget with `permissions.export_data` false would fail with 403 on every run:
    from `dashboard_ids` it is skipped (and said so); named in `widget_ids` it fails, and
    the failed run changes no table, however much the vendor's metadata changed."""
    hol = sandbox.holistics
    hol.unexportable_widgets = {"103"}
    summary_path = cli.tmp / "summary.json"
    result = cli("run", "holistics", "--summary-json", str(summary_path), extra_env=EXPORTS_ONLY)

    assert result.code == 0, result.output
    [source] = json.loads(summary_path.read_text())["sources"]
    [skipped] = source["skipped"]
    assert skipped.startswith("widget_103 of dashboard 2: permissions.export_data is false")
    assert f"skipped: {skipped}" in result.stdout
    assert not hol.api.seen("/dashboard_widgets/103/submit_export")
    tables = {t for t in source["tables"] if t.startswith("widget_")}
    assert "widget_103" not in tables
    assert tables == {f"widget_{w}" for w in exported(sandbox) if w != 103}
    before = {t: metadata_truth(hol)[t] for t in LISTED} | jobs_truth(hol)
    hol.removed = {"data_schedules": {5}, "users": {7}}

    named = cli(
        "run", "holistics", extra_env={**EXPORTS_ONLY, "SOURCES__HOLISTICS__WIDGET_IDS": "[103]"}
    )
    assert named.code == 3, named.output
    assert any("103" in line for line in errors(named))
    assert_tables(cli, before)  # nothing of the failed run: no table emptied or shortened
