"""Holistics widget exports: failed, short, empty or drifting exports, incremental
widgets, job answers in an unknown shape, and widgets the key may not export."""

from __future__ import annotations

import json

import pendulum

from sandbox import Sandbox
from tests import holistics_support
from tests.conftest import Cli
from tests.holistics_support import (
    EXPORTS_ONLY,
    INCREMENTAL_105,
    errors,
    exported,
    loaded,
    summary,
    truth,
)
from tests.test_holistics_metadata import LISTED, assert_tables, jobs_truth, metadata_truth

sandbox = holistics_support.holistics_sandbox  # these tests run against a Holistics-only sandbox


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
