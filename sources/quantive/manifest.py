"""Quantive as the CLI sees it (pipelines/registry.py collects it)."""

from sources.common.config import Declaration
from sources.quantive import check, discover, quantive_source
from sources.quantive.config import SOURCE, QuantiveConfig

DECLARATION = Declaration(
    SOURCE,
    quantive_source,
    QuantiveConfig,
    check,
    discover,
    placeholders={
        "access_token": "placeholder",
        "account_id": "placeholder",
        "start_date": "2024-01-01",
    },
    cursors={
        "kpi_snapshots": "one per KPI (state `kpi_cursors`: the first day not yet final; "
        "a KPI without one starts at start_date), refetched from there minus "
        "lookback_days, aligned to the start of its group_by period; the summary shows "
        "the oldest as snapshot_date. With v2_snapshots or a KPI filter one request per "
        "window reads every KPI from the latest start, KPIs behind it by id"
    },
    sample_query=(
        "SELECT k.name, s.snapshot_date AS latest_day, s.value AS latest_value\n"
        "FROM quantive.kpis k JOIN (\n"
        "  SELECT kpi_id, max(snapshot_date) AS snapshot_date,\n"
        "         arg_max(value, snapshot_date) AS value\n"
        "  FROM quantive.kpi_snapshots GROUP BY kpi_id) s ON s.kpi_id = k.id\n"
        "ORDER BY k.name"
    ),
)
