"""The orchestration examples really run: Dagster materialises a source's assets against
the sandbox in-process; Airflow parses the DAG with its tasks and schedule. Each runs in a
subprocess of its own, so neither framework's global setup leaks into other tests."""

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
        from dagster_dlt import DagsterDltResource
        from orchestration.dagster_assets import ASSETS, defs
        done = dg.materialize([ASSETS["kissmetrics"]], resources={"dlt": DagsterDltResource()})
        keys = sorted(k.to_user_string() for k in ASSETS["kissmetrics"].keys)
        print(json.dumps({"success": done.success, "keys": keys,
                          "schedules": [s.name for s in defs.schedules]}))
    """,
        env,
        cli.tmp,
    )
    assert result["success"]
    assert "kissmetrics/reports" in " ".join(result["keys"]) or any(
        "reports" in k for k in result["keys"]
    )
    assert result["schedules"] == ["nightly"]
    with duckdb.connect(str(cli.db), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM kissmetrics.report_signups_by_channel").fetchone() == (
            200,
        )


@pytest.mark.timeout(300)
def test_airflow_parses_the_dag_with_a_group_per_source(cli: Cli, sandbox: Sandbox) -> None:
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
    for name in names():
        assert any(task.startswith(f"{name}.") for task in result["tasks"]), result["tasks"]
