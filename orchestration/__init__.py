"""Ready-made orchestration of the pipelines (optional extras `dagster` and `airflow`).

Both read the same configuration as the CLI (`.dlt/`, `destinations.toml`, environment)
and load into the destination named by `VENDOR_ELT_DESTINATION` (default: duckdb)."""

from __future__ import annotations

import os

from pipelines import destinations, project

DESTINATION_VAR = "VENDOR_ELT_DESTINATION"


def destination() -> destinations.NamedDestination:
    """Enter the project (dlt reads .dlt/ from the working directory) and pick the target."""
    project.enter_project(None)
    return destinations.resolve(os.environ.get(DESTINATION_VAR))
