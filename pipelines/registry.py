"""The sources the CLI knows: how to build each, check it, and describe its cursors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dlt.extract.source import DltSource

import sources.datawiz as datawiz
import sources.holistics as holistics
import sources.kissmetrics as kissmetrics
import sources.quantive as quantive
from sources.common.discovery import Discovery


@dataclass(frozen=True)
class SourceEntry:
    name: str
    factory: Callable[..., DltSource]
    check: Callable[[], str]
    discover: Callable[[], Discovery]
    # enough settings to build the source for `pipelines sources` without real credentials
    placeholders: dict[str, Any] = field(default_factory=dict)
    cursors: dict[str, str] = field(default_factory=dict)
    sample_query: str = ""


SOURCES: dict[str, SourceEntry] = {
    "datawiz": SourceEntry(
        "datawiz",
        datawiz.datawiz_source,
        datawiz.check,
        datawiz.discover,
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
    ),
    "holistics": SourceEntry(
        "holistics",
        holistics.holistics_source,
        holistics.check,
        holistics.discover,
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
    ),
    "kissmetrics": SourceEntry(
        "kissmetrics",
        kissmetrics.kissmetrics_source,
        kissmetrics.check,
        kissmetrics.discover,
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
    ),
    "quantive": SourceEntry(
        "quantive",
        quantive.quantive_source,
        quantive.check,
        quantive.discover,
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
    ),
}

ORDER = ("datawiz", "holistics", "quantive", "kissmetrics")


def names() -> list[str]:
    return [name for name in ORDER if name in SOURCES]
