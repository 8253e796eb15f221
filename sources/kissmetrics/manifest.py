"""Kissmetrics as the CLI sees it (pipelines/registry.py collects it)."""

from sources.common.config import Declaration
from sources.kissmetrics import check, discover, kissmetrics_source
from sources.kissmetrics.config import SOURCE, KissmetricsConfig

DECLARATION = Declaration(
    SOURCE,
    kissmetrics_source,
    KissmetricsConfig,
    check,
    discover,
    placeholders={"api_token": "placeholder", "start_date": "2024-01-01"},
    cursors={
        "reports": "none: the list is read whole and replaces the table (snapshot)",
        "report_results": "per report: end of the last complete window "
        "(state `cursors`), refetched from there minus lookback_days; each window "
        "loaded also writes its report_runs row (its query's results and export links)",
        **dict.fromkeys(
            ("products", "accounts", "report_details"),
            "none: read whole per run (one GET each), replacing the table only when "
            "every one was read (snapshot)",
        ),
    },
    sample_query=(
        "SELECT channel, count(*) AS signups, round(sum(revenue), 2) AS revenue\n"
        "FROM kissmetrics.report_signups_by_channel GROUP BY channel ORDER BY signups DESC"
    ),
)
