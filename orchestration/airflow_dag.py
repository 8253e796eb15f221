"""Airflow: every source nightly through dlt's Airflow helper (`PipelineTasksGroup`).

    pip install -e '.[airflow]'
    cp orchestration/airflow_dag.py $AIRFLOW_HOME/dags/   # with this project installed

dlt's helper builds the sources when Airflow parses the DAG, so their configuration must
be resolvable there: environment variables, or `.dlt/secrets.toml` of the project
(`DLT_PROJECT_DIR`), or dlt's Airflow variable `dlt_secrets_toml`. Each source is its
own task group; one source failing does not stop the others (`trigger_rule=all_done`)."""

from __future__ import annotations

import pendulum
from airflow.sdk import DAG
from dlt.helpers.airflow_helper import PipelineTasksGroup

from orchestration import destination
from pipelines.registry import SOURCES, names
from pipelines.runner import make_pipeline, schema_contract

TARGET = destination()

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
        group = PipelineTasksGroup(name, use_data_folder=False, wipe_local_data=True)
        group.add_run(
            make_pipeline(name, TARGET),
            SOURCES[name].factory(),
            decompose="none",
            trigger_rule="all_done",
            loader_file_format=TARGET.loader_file_format,
            schema_contract=schema_contract(name),
        )
