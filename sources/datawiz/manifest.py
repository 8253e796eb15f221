"""Datawiz as the CLI sees it (pipelines/registry.py collects it)."""

from sources.common.config import Declaration
from sources.datawiz import check, datawiz_source, discover
from sources.datawiz.config import SOURCE, DatawizConfig

DECLARATION = Declaration(
    SOURCE,
    datawiz_source,
    DatawizConfig,
    check,
    discover,
    placeholders={
        **dict.fromkeys(("client_id", "client_secret", "username", "password"), "placeholder"),
        "account_id": "313",
        "start_date": "2024-01-01",
        "tables": [{"name": "sales_by_shop", "aggregate": ["turnover"], "group_by": ["shop"]}],
        "reports": [  # a widget of each type: table, series, tree, key-value
            {"report": "shops-sales", "widget": "table", "metrics": ["turnover"]},
            {"report": "shop-card", "widget": "chart", "metrics": ["qty"], "shops": [1]},
            {"report": "category-sales", "widget": "treemap", "metrics": ["turnover"]},
            {
                "report": "shop-card",
                "widget": "cards",
                "metrics": ["turnover"],
                "shops": [1],
                "interval": "day_month_year",
            },
        ],
    },
    cursors={
        "sales_by_shop": "per builder table: the first day not loaded (state "
        "`cursors.next_day`), refetched from there minus lookback_days, up to yesterday",
        "report_shop-card__cards": "per widget with an interval: the first day not loaded "
        "(state `cursors.next_day`); daily widgets merge per day (date), week/month "
        "widgets per calendar period (_period_start); a widget without one is a snapshot "
        "of the run's days (_snapshot_of), replaced. Charts, trees and cards load in "
        "long form (position, label, series, measure, value)",
    },
    sample_query=(
        "SELECT date, shop_name, turnover, qty, profit\n"
        "FROM datawiz.sales_by_shop ORDER BY date DESC, shop_name LIMIT 8"
    ),
)
