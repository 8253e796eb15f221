"""Dagster: one dlt multi-asset per source through dagster-dlt, and a nightly schedule.

    pip install -e '.[dagster]'
    dagster dev -m orchestration.dagster_assets

Asset definitions are built from each source's placeholder settings, so Dagster can load
this module without credentials; every materialisation builds the source again with the
real configuration (environment, .dlt/secrets.toml) and runs it with dagster-dlt, which
reports each table as an asset materialisation."""

# no `from __future__ import annotations`: Dagster inspects the context annotation at runtime
from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltResource, dlt_assets

from orchestration import destination
from pipelines.registry import SOURCES, names
from pipelines.runner import make_pipeline, schema_contract

TARGET = destination()


def source_assets(name: str) -> dg.AssetsDefinition:
    entry = SOURCES[name]

    @dlt_assets(
        dlt_source=entry.factory(**entry.placeholders),
        dlt_pipeline=make_pipeline(name, TARGET),
        name=name,
        group_name=name,
    )
    def assets(context: dg.AssetExecutionContext, dlt: DagsterDltResource) -> Iterator[Any]:
        yield from dlt.run(
            context=context,
            dlt_source=entry.factory(),
            dlt_pipeline=make_pipeline(name, TARGET),
            loader_file_format=TARGET.loader_file_format,
            schema_contract=schema_contract(name),
        )

    return assets


ASSETS = {name: source_assets(name) for name in names()}

defs = dg.Definitions(
    assets=list(ASSETS.values()),
    resources={"dlt": DagsterDltResource()},
    schedules=[
        dg.ScheduleDefinition(
            name="nightly", cron_schedule="30 2 * * *", target=dg.AssetSelection.all()
        )
    ],
)
