"""What the destination must hold, per source, given the sandbox's state: one comparison
for every fault and crash test ("nothing lost, nothing doubled").

`assert_truth(cli, sandbox, source)` checks, for the tables a default run of the source
loads against the sandbox (its `env()`):
- the set of data tables is exactly the expected one (nothing half-created),
- every table's row count (root and child tables) equals what the simulator serves,
- exact rows where cheap: every Kissmetrics report, every Holistics widget export and
  metadata table (and each export job it holds), every Quantive snapshot value, Datawiz's
  sales_by_shop,
- no row is doubled: no two rows are equal apart from dlt's load and row ids.

It reuses what the per-source tests compute from the simulators."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pendulum

from sandbox import Sandbox
from sandbox import datawiz as dw_sim
from sandbox.kissmetrics import REPORTS
from tests.conftest import Cli

# a child row is identified by its parent and list index, which stay in the comparison
DLT_IDS = ("_dlt_load_id", "_dlt_id", "_dlt_root_id")


def data_tables(cli: Cli, source: str) -> dict[str, int]:
    """Row count of every data table of the source's dataset (not dlt's, not `_runs`)."""
    if not cli.db.exists():
        return {}
    names = [
        r[0]
        for r in cli.sql(
            "SELECT table_name FROM information_schema.tables "
            f"WHERE table_schema = '{source}' ORDER BY 1"
        )
        if not r[0].startswith("_")
    ]
    return {n: cli.sql(f'SELECT count(*) FROM {source}."{n}"')[0][0] for n in names}


def doubled(cli: Cli, source: str, table: str) -> int:
    """Rows that repeat another row of the table, dlt's ids aside."""
    columns = [
        r[0]
        for r in cli.sql(
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = '{source}' AND table_name = '{table}'"
        )
        if r[0] not in DLT_IDS
    ]
    if not columns:
        return 0
    listed = ", ".join(f'"{c}"' for c in columns)
    name = f'{source}."{table}"'
    total, distinct = cli.sql(
        f"SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT {listed} FROM {name})) "
        f"FROM {name}"
    )[0]
    return total - distinct


# -- per source: expected counts, and exact checks --------------------------------------


def _yesterday() -> date:
    return pendulum.yesterday("UTC").date()


def _datawiz_counts(sandbox: Sandbox) -> dict[str, int]:
    days = (_yesterday() - sandbox.datawiz.first_day).days + 1
    return {
        "sales_by_shop": days * len(dw_sim.SHOPS),
        "category_managers": days * (1 + 3 + 6),  # day → manager → category, expanded
        "report_shops_sales__table": days * len(dw_sim.SHOPS),
        # the chart, weekly cards, info panel and treemap (sandbox/datawiz_widgets.py)
        **sandbox.datawiz.example_widget_counts(sandbox.datawiz.first_day, _yesterday()),
    }


# Tables that hold one snapshot (Datawiz widgets without an `interval`): each run
# replaces it with the window it fetched (`_window_from`/`_window_to`), so the table holds
# `per window` rows of that one window (docs/sources/datawiz.md).
SNAPSHOTS = {"datawiz": {"report_category_sales__table": 6}}  # one row per category
# Tables a source adds each run's history to (Holistics' export jobs and their logs): a
# killed or partly failed run may or may not have added its rows, and history cannot be
# read again, so their count is the destination's own and EXACT checks every row.
HISTORY = {"holistics": ("jobs", "job_logs")}


def windows(cli: Cli, source: str, table: str) -> int:
    return cli.sql(f'SELECT count(DISTINCT (_window_from, _window_to)) FROM {source}."{table}"')[0][
        0
    ]


def _datawiz_exact(cli: Cli, sandbox: Sandbox) -> None:
    from tests.datawiz_support import expected_by_shop, loaded_by_shop

    expected = expected_by_shop(sandbox, sandbox.datawiz.first_day, _yesterday())
    assert loaded_by_shop(cli) == expected, "datawiz.sales_by_shop differs from the sandbox"


def _holistics_counts(sandbox: Sandbox) -> dict[str, int]:
    from tests.test_holistics_metadata import metadata_counts

    counts = metadata_counts(sandbox)
    for widget_id in _holistics_widgets(sandbox):
        counts[f"widget_{widget_id}"] = sum(1 for _ in sandbox.holistics.csv_rows(widget_id, None))
    return {table: n for table, n in counts.items() if n}


def _holistics_widgets(sandbox: Sandbox) -> list[int]:
    from tests.holistics_support import exported

    return exported(sandbox)


def _holistics_exact(cli: Cli, sandbox: Sandbox) -> None:
    from tests.holistics_support import loaded, truth
    from tests.test_holistics_metadata import assert_history, assert_tables, metadata_truth

    for widget_id in _holistics_widgets(sandbox):
        assert loaded(cli, widget_id, sandbox) == truth(sandbox, widget_id), widget_id
    assert_tables(cli, metadata_truth(sandbox.holistics))
    assert_history(cli, sandbox.holistics)


def _quantive_counts(sandbox: Sandbox) -> dict[str, int]:
    qr = sandbox.quantive
    n = qr.n_kpis
    counts = {
        "kpis": n,
        "kpi_snapshots": len(qr.ground_truth()),
        "kpi_projections": sum(len(qr.projections(i)) for i in range(n)),
        "kpi_statistics": n * 5,
    }
    for link in ("goals", "metrics", "sessions", "kpis"):
        table = "kpis__linked_kpis" if link == "kpis" else f"kpis__{link}"
        counts[table] = sum(len(qr.links(i)[link]) for i in range(n))
    return {table: count for table, count in counts.items() if count}


def _quantive_exact(cli: Cli, sandbox: Sandbox) -> None:
    rows = cli.sql('SELECT kpi_id, "group", value FROM quantive.kpi_snapshots')
    assert {(k, g): v for k, g, v in rows} == sandbox.quantive.ground_truth()


KISSMETRICS_TABLES = {
    "Signups by Channel": "report_signups_by_channel",
    "Revenue per Person": "report_revenue_per_person",
    "Active People": "report_active_people",
}


def _kissmetrics_counts(sandbox: Sandbox) -> dict[str, int]:
    truth = sandbox.kissmetrics.ground_truth()
    return {
        "reports": len(REPORTS),
        **{table: len(truth[report]) for report, table in KISSMETRICS_TABLES.items()},
        # products, accounts, report_details, report_runs
        **sandbox.kissmetrics.metadata_counts(),
    }


def _kissmetrics_exact(cli: Cli, sandbox: Sandbox) -> None:
    from tests.kissmetrics_support import assert_exact

    if not sandbox.kissmetrics.report("Signups by Channel").drift:
        assert_exact(cli, sandbox)
    else:  # a drifted report has other columns: the rest must still be exact
        assert_exact(cli, sandbox, reports=("Revenue per Person", "Active People"))


COUNTS: dict[str, Callable[[Sandbox], dict[str, int]]] = {
    "datawiz": _datawiz_counts,
    "holistics": _holistics_counts,
    "quantive": _quantive_counts,
    "kissmetrics": _kissmetrics_counts,
}
EXACT: dict[str, Callable[[Cli, Sandbox], None]] = {
    "datawiz": _datawiz_exact,
    "holistics": _holistics_exact,
    "quantive": _quantive_exact,
    "kissmetrics": _kissmetrics_exact,
}


def expected_counts(sandbox: Sandbox, source: str, cli: Cli | None = None) -> dict[str, int]:
    counts = COUNTS[source](sandbox)
    for table, per_window in SNAPSHOTS.get(source, {}).items():
        counts[table] = per_window * (max(1, windows(cli, source, table)) if cli else 1)
    loaded = data_tables(cli, source) if cli else {}
    counts.update({t: loaded[t] for t in HISTORY.get(source, ()) if t in loaded})
    return counts


def assert_truth(cli: Cli, sandbox: Sandbox, source: str) -> None:
    """The destination holds exactly the sandbox's data for `source`: see the module doc."""
    expected = expected_counts(sandbox, source, cli)
    assert data_tables(cli, source) == expected
    for table in expected:
        assert doubled(cli, source, table) == 0, f"{source}.{table} has doubled rows"
    EXACT[source](cli, sandbox)
