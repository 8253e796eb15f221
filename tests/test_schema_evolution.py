"""A vendor's schema drifts between runs: new columns, changed types, vanished fields, and
the per-source schema contract that decides what happens."""

from __future__ import annotations

import pytest

from sandbox import Sandbox
from tests.conftest import Cli

DAILY = {"SOURCES__KISSMETRICS__WINDOW_DAYS": "1", "SOURCES__KISSMETRICS__LOOKBACK_DAYS": "1"}
TABLE = "kissmetrics.report_signups_by_channel"


def columns(cli: Cli) -> list[str]:
    return [r[0] for r in cli.sql(f"SELECT column_name FROM (DESCRIBE {TABLE})")]


def refetched(cli: Cli) -> int:
    """Rows in the windows a rerun asks for again: yesterday and today."""
    return cli.sql(
        f"SELECT count(*) FROM {TABLE} WHERE _window_start >= current_date - INTERVAL 1 DAY"
    )[0][0]


def drift_between_runs(cli: Cli, sandbox: Sandbox, drift: str, **env: str) -> tuple[int, int]:
    first = cli("run", "kissmetrics", extra_env={**DAILY, **env})
    assert first.code == 0, first.output
    sandbox.kissmetrics.set_drift(drift)
    second = cli("run", "kissmetrics", extra_env={**DAILY, **env})
    return second.code, refetched(cli)


def test_a_new_field_becomes_a_new_column_and_old_rows_stay_null(
    cli: Cli, sandbox: Sandbox
) -> None:
    code, again = drift_between_runs(cli, sandbox, "add_field")
    assert code == 0
    assert "country" in columns(cli)
    assert cli.sql(f"SELECT count(*) FROM {TABLE} WHERE country IS NOT NULL") == [(again,)]
    assert cli.sql(f"SELECT count(*) FROM {TABLE}") == [(200,)]
    assert 0 < again < 200


def test_a_changed_type_goes_to_a_variant_column_and_nothing_is_lost(
    cli: Cli, sandbox: Sandbox
) -> None:
    code, again = drift_between_runs(cli, sandbox, "change_type")
    assert code == 0
    assert "revenue__v_text" in columns(cli)
    assert cli.sql(
        f"SELECT count(*) FROM {TABLE} WHERE revenue__v_text LIKE '% USD' AND revenue IS NULL"
    ) == [(again,)]
    assert cli.sql(f"SELECT count(*) FROM {TABLE} WHERE revenue IS NOT NULL") == [(200 - again,)]


def test_a_vanished_field_keeps_its_column(cli: Cli, sandbox: Sandbox) -> None:
    code, again = drift_between_runs(cli, sandbox, "drop_field")
    assert code == 0
    assert "channel" in columns(cli)
    assert cli.sql(f"SELECT count(*) FROM {TABLE} WHERE channel IS NULL") == [(again,)]


def test_a_frozen_contract_fails_with_one_line_and_changes_nothing(
    cli: Cli, sandbox: Sandbox
) -> None:
    frozen = {"SOURCES__KISSMETRICS__SCHEMA_CONTRACT": "freeze"}
    assert cli("run", "kissmetrics", extra_env={**DAILY, **frozen}).code == 0
    before = cli.sql(
        f"SELECT * EXCLUDE (_dlt_load_id) FROM {TABLE} ORDER BY _window_start, _row_number"
    )
    sandbox.kissmetrics.set_drift("add_field")

    broken = cli("run", "kissmetrics", extra_env={**DAILY, **frozen})

    assert broken.code == 1
    errors = [line for line in broken.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert "table report_signups_by_channel, column country" in errors[0]
    assert "schema_contract = freeze" in errors[0]
    assert (
        cli.sql(f"SELECT * EXCLUDE (_dlt_load_id) FROM {TABLE} ORDER BY _window_start, _row_number")
        == before
    )

    healed = cli("run", "kissmetrics", extra_env=DAILY)  # evolve again
    assert healed.code == 0, healed.output
    assert "country" in columns(cli)


def test_discard_value_drops_the_new_column(cli: Cli, sandbox: Sandbox) -> None:
    code, _ = drift_between_runs(
        cli, sandbox, "add_field", SOURCES__KISSMETRICS__SCHEMA_CONTRACT="discard_value"
    )
    assert code == 0
    assert "country" not in columns(cli)
    assert cli.sql(f"SELECT count(*) FROM {TABLE}") == [(200,)]


@pytest.mark.parametrize("value", ["melt", "Freeze"])
def test_an_unknown_contract_is_a_configuration_error(cli: Cli, value: str) -> None:
    result = cli("run", "kissmetrics", extra_env={"SOURCES__KISSMETRICS__SCHEMA_CONTRACT": value})
    assert result.code == 2
    assert "schema_contract" in result.stderr and "SOURCES__KISSMETRICS__SCHEMA_CONTRACT" in (
        result.stderr
    )
