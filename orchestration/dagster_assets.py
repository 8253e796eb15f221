"""Dagster: one multi-asset per source (an asset per dlt resource, keyed as dagster-dlt
keys them) and a nightly schedule.

    pip install -e '.[dagster]'
    dagster dev -m orchestration.dagster_assets

Asset definitions are built from each source's placeholder settings, so Dagster can load
this module without credentials. A materialisation runs the source through
`orchestration.run_task`, the same path as `python -m pipelines run` (lock, `_runs`,
schema contract): every asset of a source that loaded is reported with its load id and
rows, and a source that failed in part then fails the run with its one-line error, so a
widget that failed every retry pages somebody instead of finishing green."""

# no `from __future__ import annotations`: Dagster inspects the context annotation at runtime
from collections.abc import Iterator

import dagster as dg
from dagster_dlt import dlt_assets

from orchestration import destination, run_task
from pipelines.registry import SOURCES, names
from pipelines.results import STATUS_FAILED, RunFailed
from pipelines.runner import make_pipeline


def source_assets(name: str) -> dg.AssetsDefinition:
    entry = SOURCES[name]

    @dlt_assets(
        dlt_source=entry.factory(**entry.placeholders),
        dlt_pipeline=make_pipeline(name, destination()),
        name=name,
        group_name=name,
    )
    def assets(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult]:
        try:
            result = run_task(name)
        except RunFailed as failed:
            result = failed.result
            if result.status != STATUS_FAILED:  # partial: what loaded is committed
                yield from _materialized(context, result)
            raise dg.Failure(description=str(failed)) from None
        yield from _materialized(context, result)

    return assets


def _materialized(context: dg.AssetExecutionContext, result) -> Iterator[dg.MaterializeResult]:
    metadata = {
        "load_id": result.load_id or "",
        "status": result.status,
        "rows": result.rows,
        "tables": dg.MetadataValue.json(result.tables),
    }
    for key in context.selected_asset_keys:
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)


ASSETS = {name: source_assets(name) for name in names()}

defs = dg.Definitions(
    assets=list(ASSETS.values()),
    schedules=[
        dg.ScheduleDefinition(
            name="nightly", cron_schedule="30 2 * * *", target=dg.AssetSelection.all()
        )
    ],
)
