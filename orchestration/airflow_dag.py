"""Airflow: every source nightly, one task each, run by the project's own runner.

    pip install -e '.[airflow]'
    cp orchestration/airflow_dag.py $AIRFLOW_HOME/dags/   # with this project installed

Each task calls `orchestration.run_task`, the same path as `python -m pipelines run`:
the source's settings are resolved when the task runs (environment, or the project's
`.dlt/` found through `DLT_PROJECT_DIR`), not when Airflow parses the DAG. A source that
fails in part commits what loaded and fails its task with the one-line error; the other
sources' tasks are independent of it."""

from __future__ import annotations

import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG

from orchestration import run_task
from pipelines.registry import names

with DAG(
    dag_id="vendor_elt",
    schedule="30 2 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,  # one run at a time, as the CLI's lock ensures
    default_args={"retries": 0},
    tags=["elt", "dlt"],
) as dag:
    for name in names():
        PythonOperator(task_id=name, python_callable=run_task, op_kwargs={"name": name})
