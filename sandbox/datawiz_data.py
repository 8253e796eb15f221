"""The Datawiz simulator's data and vocabulary: credentials, shops, managers, categories,
the builder's dimensions and metrics, the example tables and reports the demo loads, and
the small helpers that spell a column, an id filter or an error the way DRF does."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sandbox.server import Reply

CLIENT_ID = "dw-sandbox-client-4b7e"


CLIENT_SECRET = "dw-sandbox-secret-93f1c0a7d2"


USERNAME = "analyst@example.com"


PASSWORD = "dw-sandbox-password-58e2"


ACCOUNT_ID = "313"


DEFAULT_PAGE_SIZE = 500


MAX_PAGE_SIZE = 10_000


SHOPS = {1: "Store #1", 2: "Store #2", 3: "Store #3", 4: "Store #4"}


MANAGERS = {1: "Addams David", 2: "Gillmore Thomas", 3: "Blake Chloe"}


CATEGORIES = {  # id: (name, manager)
    5633: ("Dairy", 1),
    5634: ("Bakery", 1),
    5635: ("Beverages", 2),
    5636: ("Produce", 2),
    5637: ("Snacks", 3),
    5638: ("Household", 3),
}


DIMENSION_TITLES = {
    "shop": "Shop",
    "category": "Category",
    "product": "Product",
    "categorical_manager": "Category manager",
    "day_month_year": "Day / Month / Year",
}


DOCUMENTED_DIMENSIONS = frozenset(
    [
        "shop",
        "shop_group",
        "shop_marker",
        "category",
        "product",
        "producer",
        "brand",
        "product_marker",
        "assortment_type",
        "supplier",
        "bonus_type",
        "categorical_manager",
        "day_month_year",
        "month_year",
        "quarter",
        "month",
        "week",
        "week_day",
        "hour",
        "terminal",
        "cashier",
        "receipt_marker",
        "promo",
        "promo_type",
        "loyalty",
        "loyalty_format",
        "loyalty_group",
        "loss_type",
        "price_type",
    ]
)


HIERARCHY = ("categorical_manager", "category", "product")


METRICS = {  # key: (title, how to compute it from summed components)
    "turnover": ("Sales", lambda c: c[1] / 100),
    "qty": ("Sales Qty", lambda c: c[0]),
    "self_price": ("Cost of goods", lambda c: c[2] / 100),
    "profit": ("Profit", lambda c: (c[1] - c[2]) / 100),
    "receipts_qty": ("Receipts", lambda c: c[3]),
    "plan_turnover_complete_percent": (
        "% completed Planned Sales",
        lambda c: round(c[1] / c[4] * 100, 3) if c[4] else None,
    ),
    "losses_total_price_percent_part": (
        "% of Write-offs in monetary units",
        lambda c: round(c[5] / c[1] * 100, 3) if c[1] else None,
    ),
}


REPORT_WIDGETS = {  # (report, widget): the dimension of its rows
    ("shops-sales", "table"): "shop",
    ("category-sales", "table"): "category",
    ("products-sales", "table"): "product",
}


_MASK = (1 << 64) - 1


def _mix(*parts: int) -> int:
    x = 0x9E3779B97F4A7C15
    for part in parts:
        x = ((x ^ part) * 0xBF58476D1CE4E5B9) & _MASK
        x ^= x >> 31
    return x


@dataclass
class Tokens:
    access: dict[str, float] = field(default_factory=dict)  # token: expires (monotonic)
    refresh: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Query:
    """A builder query, validated: what to group, filter, sum, and over which days."""

    dims: tuple[str, ...]
    fields: dict[str, list[str]]
    lookups: dict[str, dict[str, set[Any]]]
    metrics: tuple[str, ...]
    days: tuple[date, ...]
    tree: bool


DAY_NAMES = {  # how `day_month_year__name` spells a day, per `day_key` form
    "iso": "%Y-%m-%d",
    "ordinal_iso": "%Y-%m-%d",
    "ordinal_dotted": "%d.%m.%Y",
    "ordinal_dmy": "%d/%m/%Y",
    "ordinal_mdy": "%m/%d/%Y",
    "none": "%Y-%m-%d",
}


# the two example builder tables and two report widgets the demo loads
EXAMPLE_TABLES: list[dict[str, Any]] = [
    {
        "name": "sales_by_shop",
        "aggregate": ["turnover", "qty", "profit", "receipts_qty"],
        "group_by": ["shop"],
    },
    {
        "name": "category_managers",
        "aggregate": ["turnover", "plan_turnover_complete_percent"],
        "group_by": [
            {"dimension": "categorical_manager", "display_fields": ["name"]},
            {"dimension": "category", "display_fields": ["name"]},
        ],
        "options": {"expand_tree": True},
    },
]


EXAMPLE_REPORTS: list[dict[str, Any]] = [
    {
        "report": "shops-sales",
        "widget": "table",
        "metrics": ["turnover", "qty"],
        "interval": "day_month_year",
    },
    {
        "report": "category-sales",
        "widget": "table",
        "metrics": ["turnover", "profit"],
        "group_by_level": "category",
    },
]


def _column(key: str, title: str, dtype: str) -> dict[str, Any]:
    return {
        "key": key,
        "dataIndex": key,
        "title": title,
        "sorter": True,
        "dtype": dtype,
        "parent_key": None,
        "default_visible": True,
    }


def _id(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value)


def _kept(value: Any, lookups: dict[str, set[Any]] | None) -> bool:
    if not lookups:
        return True
    text = _id(value)
    include = {str(v) for v in lookups.get("include", ())}
    exclude = {str(v) for v in lookups.get("exclude", ())}
    return (not include or text in include) and text not in exclude


def _lookups(value: Any) -> dict[str, set[Any]]:
    if not isinstance(value, dict):
        return {}
    return {k: set(v) for k, v in value.items() if k in ("include", "exclude") and v}


def _dimension_problem(dim: Any) -> str | None:
    if dim not in DOCUMENTED_DIMENSIONS:
        return f"Unknown dimension '{dim}'."
    if dim not in DIMENSION_TITLES:
        return f"Dimension '{dim}' is not available in this sandbox."
    return None


def _invalid(field_name: str, message: str) -> Reply:
    return Reply.json({field_name: [message]}, 400)


def _oauth_error(status: int, error: str, description: str) -> Reply:
    return Reply.json({"error": error, "error_description": description}, status)
