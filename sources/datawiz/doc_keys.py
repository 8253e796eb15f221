"""The key tables of vendor-docs/datawiz-api.md: dimensions, date ranges, options,
reports and their widgets. `queries.py` checks settings against them, `catalog.py`
lists them for `discover`."""

# "Table of dimension keys"
DIMENSIONS = {
    "shop": "Stores",
    "shop_group": "Store Groups",
    "shop_marker": "Shop Markers",
    "category": "Categories",
    "product": "Products",
    "producer": "Producers",
    "brand": "Brands",
    "product_marker": "Product markers",
    "assortment_type": "Assortment types",
    "supplier": "Suppliers",
    "bonus_type": "Bonus Types",
    "categorical_manager": "Categorical managers",
    "day_month_year": "Day / Month / Year",
    "month_year": "Month / Year",
    "quarter": "Quarter",
    "month": "Month",
    "week": "Week",
    "week_day": "Day of the week",
    "hour": "Hours",
    "terminal": "Terminals",
    "cashier": "Cashiers",
    "receipt_marker": "Receipt Markers",
    "promo": "Promos",
    "promo_type": "Promo type",
    "loyalty": "Clients LP",
    "loyalty_format": "Types of PL clients",
    "loyalty_group": "Clients groups LP",
    "loss_type": "Types of Write-off (LossType)",
    "price_type": "Price type",
}
# "Table of selected keys for date range" (+ "date", which takes date_from/date_to)
DATE_RANGE_KEYS = frozenset(
    {
        "date",
        "last_update_date",
        "penultimate_update_date",
        "last_7_days",
        "last_30_days",
        "last_90_days",
        "last_180_days",
        "last_365_days",
        "week_begin",
        "month_begin",
        "quarter_begin",
        "year_begin",
        "prev_week",
        "prev_month",
        "prev_quarter",
        "prev_year",
        "all_time",
    }
)
# "Table of selected keys for previous date range"
PREV_DATE_RANGE_KEYS = frozenset(
    {"date", "previous", "prev_last_week", "prev_last_month", "prev_last_quarter", "prev_last_year"}
)
OPTIONS = frozenset({"use_cache", "fixed_total", "expand_tree", "with_col_total", "with_row_total"})
# "Table of reports and report widgets"
REPORT_WIDGETS: dict[str, tuple[str, ...]] = {
    "shops-sales": ("table", "treemap", "treemap-stock"),
    "category-sales": ("table", "treemap", "treemap-stock"),
    "brands-sales": ("table", "treemap", "treemap-stock"),
    "products-sales": ("table", "cumulative-curve", "abc", "category-abc"),
    "suppliers-analysis": ("table", "treemap", "treemap-stock"),
    "producers-analysis": ("table", "treemap", "treemap-stock"),
    "markers-comparative": ("table",),
    "categorical-managers": ("table",),
    "receipt-analysis": ("table",),
    "stock-control": ("table",),
    "out-of-stock": ("table",),
    "products-decommissioning": ("table",),
    "recalculation-products": ("table",),
    "terminals-traffic": ("table",),
    "staff-efficiency": ("table",),
    "innovation-products": ("table",),
    "baskets-analysis": ("table",),
    "quadrant-analysis": ("table",),
    "movement-products": ("document",),
    "predict-plan": ("table-by-shops", "table-by-categories", "table-by-categorical-managers"),
    "promotion-analysis": ("table", "chart"),
    "effectiveness-loyalty-program": ("table", "chart"),
    "hourly-analysis": ("chart", "table", "click-detail-table"),
    "rfm-analysis": ("chart", "loyalty-anomaly-table"),
    "loyalty-statistics": (
        "loyalty-dynamic",
        "cumulative-curve",
        "outflow-clients",
        "sales-funnel",
    ),
    "change-in-sales": ("comparison-chart",),
    "loyalty-segmentation": ("loyalty-clients-table", "loyalty-purchases-table"),
    "comparative-dynamics": ("curr-chart", "prev-chart", "diff-chart"),
    "shop-card": ("info", "cards", "chart"),
    "category-card": ("price-interval-chart", "cards", "chart", "sku"),
    "product-card": ("info", "cards", "chart"),
}
# The doc has no table of metric keys; these are the ones its text and examples name
# (lines 118, 187, 226-238, 365, 386, 482), for `discover`. Others exist.
DOC_METRICS = (
    "turnover",
    "plan_turnover_complete_percent",
    "plan_products_qty_complete_percent",
    "plan_profit_complete_percent",
    "plan_margin_price_complete_percent",
    "plan_marga_complete_percent",
    "losses_total_price_percent_part",
)
REPORT_INTERVALS = frozenset({"day_month_year", "week", "month"})
REPORT_ID_LISTS = ("shops", "categories", "products", "product_marker", "receipt_marker")
