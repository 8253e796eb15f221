"""Ready-made orchestration of the pipelines (optional extras `dagster` and `airflow`).

Both run a source the way the CLI does, through `pipelines.runner` (lock, `_runs`
history, pending packages, schema contract), read the same configuration (`.dlt/`,
`destinations.toml`, environment) and load into the destination named by
`VENDOR_ELT_DESTINATION` (default: duckdb). A source that fails in part commits what
loaded, then fails its task or materialisation with the one-line error."""

from __future__ import annotations

import os

from pipelines import destinations, project
from pipelines.results import SourceResult
from pipelines.runner import run_one

DESTINATION_VAR = "VENDOR_ELT_DESTINATION"


def destination() -> destinations.NamedDestination:
    """Enter the project (dlt reads .dlt/ from the working directory) and pick the target."""
    project.enter_project(None)
    return destinations.resolve(os.environ.get(DESTINATION_VAR))


def run_task(name: str) -> SourceResult:
    """One source, for an orchestrator's task: the result when everything loaded, else
    `RunFailed` (raised after the good parts committed) carrying the one-line error."""
    return run_one(name, destination())
