"""Holistics as the CLI sees it (pipelines/registry.py collects it)."""

from sources.common.config import Declaration
from sources.holistics import check, discover, holistics_source
from sources.holistics.config import SOURCE, HolisticsConfig

DECLARATION = Declaration(
    SOURCE,
    holistics_source,
    HolisticsConfig,
    check,
    discover,
    placeholders={"api_key": "placeholder"},
    cursors={
        "widget_exports": "per incremental widget: the last day exported (state "
        "`cursors`), refetched from there minus lookback_days; snapshot widgets: none; "
        "also loads tables jobs and job_logs, each run's export jobs merged on their ids "
        "(no cursor: Holistics cannot list past jobs)",
    },
    sample_query=(
        "SELECT region, count(*) AS orders_rows, round(sum(revenue), 2) AS revenue\n"
        "FROM holistics.widget_100 GROUP BY region ORDER BY revenue DESC"
    ),
)
