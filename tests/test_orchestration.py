"""The orchestration examples really run: Dagster materialises a source's assets against
the sandbox in-process; Airflow parses the DAG with its tasks and schedule, and its task
callable runs a source. A source that fails in part commits the good parts and then
fails the materialisation or task with its one-line error. Each runs in a subprocess of
its own, so neither framework's global setup leaks into other tests."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import duckdb
import pytest

from pipelines.registry import names
from sandbox import Sandbox
from tests.conftest import ROOT, Cli


def widget_tables(db: Path) -> dict[str, int]:
    with duckdb.connect(str(db), read_only=True) as con:
        names = con.sql(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'holistics' AND table_name LIKE 'widget_%'"
        ).fetchall()
        return {n: con.sql(f"SELECT count(*) FROM holistics.{n}").fetchone()[0] for (n,) in names}


def run_python(code: str, env: dict[str, str], cwd: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.timeout(300)
def test_dagster_materialises_a_source_against_the_sandbox(cli: Cli, sandbox: Sandbox) -> None:
    pytest.importorskip("dagster_dlt")
    env = {**cli.env, "DAGSTER_HOME": str(cli.tmp / "dagster"), "DLT_PROJECT_DIR": str(ROOT)}
    (cli.tmp / "dagster").mkdir()
    result = run_python(
        """
        import json
        import dagster as dg
        from orchestration.dagster_assets import ASSETS, defs
        done = dg.materialize([ASSETS["kissmetrics"]])
        keys = sorted(k.to_user_string() for k in ASSETS["kissmetrics"].keys)
        materialised = sorted(e.asset_key.to_user_string() for e in done.all_events
                              if e.is_step_materialization)
        print(json.dumps({"success": done.success, "keys": keys, "materialised": materialised,
                          "schedules": [s.name for s in defs.schedules]}))
    """,
        env,
        cli.tmp,
    )
    assert result["success"]
    assert any("reports" in k for k in result["keys"])
    assert result["materialised"] == result["keys"]
    assert result["schedules"] == ["nightly"]
    with duckdb.connect(str(cli.db), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM kissmetrics.report_signups_by_channel").fetchone() == (
            200,
        )


@pytest.mark.timeout(300)
def test_dagster_fails_the_materialisation_of_a_partly_failed_source_after_committing(
    cli: Cli, sandbox: Sandbox
) -> None:
    pytest.importorskip("dagster")
    sandbox.holistics.fail_widgets = {"101"}  # its export job fails on every run
    env = {**cli.env, "DAGSTER_HOME": str(cli.tmp / "dagster"), "DLT_PROJECT_DIR": str(ROOT)}
    (cli.tmp / "dagster").mkdir()
    result = run_python(
        """
        import json
        import dagster as dg
        from orchestration.dagster_assets import ASSETS
        done = dg.materialize([ASSETS["holistics"]], raise_on_error=False)
        failures = [e.step_failure_data.error.message for e in done.all_events
                    if e.is_step_failure]
        materialised = [e.asset_key.to_user_string() for e in done.all_events
                        if e.is_step_materialization]
        print(json.dumps({"success": done.success, "failures": failures,
                          "materialised": materialised}))
    """,
        env,
        cli.tmp,
    )
    assert result["success"] is False
    [message] = result["failures"]
    assert "holistics: widget_101" in message and "\n" not in message.strip()
    assert result["materialised"]  # the good parts are reported as materialised
    loaded = widget_tables(cli.db)
    assert "widget_101" not in loaded and loaded and all(loaded.values())


@pytest.mark.timeout(300)
def test_airflow_task_callable_fails_after_committing_the_good_parts(
    cli: Cli, sandbox: Sandbox
) -> None:
    sandbox.holistics.fail_widgets = {"101"}
    env = {**cli.env, "DLT_PROJECT_DIR": str(ROOT)}
    result = run_python(
        """
        import json
        from orchestration import run_task
        from pipelines.results import RunFailed
        try:
            run_task("holistics")
            failed = None
        except RunFailed as exc:
            failed = {"line": str(exc), "status": exc.result.status, "code": exc.exit_code}
        ok = run_task("kissmetrics")
        print(json.dumps({"failed": failed, "ok": ok.status, "rows": ok.rows}))
    """,
        env,
        cli.tmp,
    )
    failed = result["failed"]
    assert failed is not None, "a partly failed source must fail its task"
    assert failed["status"] == "partial" and failed["code"] == 1
    assert failed["line"].startswith("holistics: widget_101")
    loaded = widget_tables(cli.db)
    assert "widget_101" not in loaded and loaded and all(loaded.values())
    assert result["ok"] == "ok" and result["rows"] > 0


@pytest.mark.timeout(300)
def test_airflow_parses_the_dag_with_a_task_per_source(cli: Cli, sandbox: Sandbox) -> None:
    pytest.importorskip("airflow")
    env = {
        **cli.env,
        "AIRFLOW_HOME": str(cli.tmp / "airflow"),
        "DLT_PROJECT_DIR": str(ROOT),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
    }
    result = run_python(
        f"""
        import json
        from airflow.dag_processing.dagbag import DagBag
        bag = DagBag(dag_folder={str(ROOT / "orchestration" / "airflow_dag.py")!r})
        dag = bag.dags.get("vendor_elt")
        print(json.dumps({{"errors": {{k: str(v)[-500:] for k, v in bag.import_errors.items()}},
                          "tasks": sorted(dag.task_ids) if dag else [],
                          "schedule": str(dag.schedule) if dag else None,
                          "max_active_runs": dag.max_active_runs if dag else None}}))
    """,
        env,
        cli.tmp,
    )
    assert result["errors"] == {}
    assert result["schedule"] == "30 2 * * *"
    assert result["max_active_runs"] == 1
    assert result["tasks"] == sorted(names())
