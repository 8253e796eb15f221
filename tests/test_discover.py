"""`python -m pipelines discover SOURCE` lists what the account offers with ids, and its
snippet is TOML that names exactly what the sandbox has."""

from __future__ import annotations

import tomllib

import pytest

from sandbox import Sandbox
from sandbox.kissmetrics import REPORTS
from sandbox.quantive_reads import GROUP_IDS
from sources.datawiz.doc_keys import DIMENSIONS, REPORT_WIDGETS
from sources.datawiz.payloads import KINDS
from sources.datawiz.queries import parse_reports
from tests.conftest import Cli


def discover(cli: Cli, source: str) -> tuple[str, dict]:
    result = cli("discover", source)
    assert result.code == 0, result.output
    listing, _, snippet = result.stdout.partition("# add to .dlt/config.toml\n")
    config = tomllib.loads(snippet)["sources"][source]
    return listing, config


def test_kissmetrics_lists_every_report_and_product_with_its_id(cli: Cli, sandbox: Sandbox) -> None:
    listing, config = discover(cli, "kissmetrics")
    assert sorted(config["report_ids"]) == sorted(r.id for r in REPORTS)
    for report in REPORTS:
        assert report.id in listing and report.name in listing
    products = sandbox.kissmetrics.metadata_truth()["products"]  # (id, name)
    assert sorted(config["product_ids"]) == [pid for pid, _ in products]
    assert all(name in listing for _, name in products)


def test_holistics_offers_only_exportable_widgets(cli: Cli, sandbox: Sandbox) -> None:
    sandbox.holistics.unexportable_widgets = {"103"}
    listing, config = discover(cli, "holistics")
    assert sorted(config["widget_ids"]) == sorted(w for w in sandbox.holistics.widgets if w != 103)
    assert len(config["dashboard_ids"]) == len(sandbox.holistics.dashboards)
    assert "exportable" in listing
    # no list of AML projects: the data sets behind the widgets name theirs
    projects = {d["project_id"] for d in sandbox.holistics.data_sets().values()}
    assert config["data_model_projects"] == sorted(projects)
    assert "data sets behind the widgets" in listing


def test_quantive_lists_kpis_their_groups_and_the_insights_they_use(
    cli: Cli, sandbox: Sandbox
) -> None:
    qr = sandbox.quantive
    listing, config = discover(cli, "quantive")
    assert sorted(config["kpi_ids"]) == sorted(qr.kpi_ids)
    assert config["insight_ids"] == sorted(i.id for i in qr.insights)
    assert "group_ids" not in config  # offered commented out: one selector at a time
    for group in GROUP_IDS:  # each group with its KPI count, for `group_ids`
        assert f"{group} | {len(qr.kpis_where(group_ids=(group,)))}" in listing
    assert f"(none: ungrouped = true) | {len(qr.kpis_where(ungrouped=True))}" in listing


def test_datawiz_lists_the_docs_reports_dimensions_and_metrics(cli: Cli) -> None:
    listing, config = discover(cli, "datawiz")
    assert config["tables"][0]["group_by"] == ["shop"]
    for report, widgets in REPORT_WIDGETS.items():
        assert report in listing and all(w in listing for w in widgets)
    assert all(key in listing for key in DIMENSIONS)
    # every widget with what it draws; the snippet's widgets pass the configuration check
    for widget, kind in KINDS.items():
        cells = ([c.strip() for c in line.split("|")][:2] for line in listing.splitlines())
        assert [widget, kind] in cells
    assert {spec.kind for spec in parse_reports(config["reports"])} == {"table", "series"}


@pytest.mark.parametrize("source", ["kissmetrics", "holistics"])
def test_discover_with_a_bad_credential_exits_3(cli: Cli, source: str) -> None:
    key = {"kissmetrics": "API_TOKEN", "holistics": "API_KEY"}[source]
    result = cli("discover", source, extra_env={f"SOURCES__{source.upper()}__{key}": "wrong-one"})
    assert result.code == 3, result.output
    assert [x for x in result.stderr.splitlines() if x.startswith("error:")]
