"""Holistics end to end: the real CLI, over real HTTP, against the sandbox, into DuckDB."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from sandbox import Sandbox
from sources.common.csv_arrow import inspect_csv, read_csv_tables
from sources.holistics import resolve_base_url
from tests import holistics_support
from tests.conftest import Cli
from tests.holistics_support import EXPORTS_ONLY, errors

sandbox = holistics_support.holistics_sandbox  # these tests run against a Holistics-only sandbox


def test_a_wrong_key_exits_3_and_prints_no_secret(cli: Cli, sandbox: Sandbox) -> None:
    wrong = "wrong-holistics-key-8d1f2a"
    for command in (
        ["run", "holistics", "--summary-json", str(cli.tmp / "s.json")],
        ["check", "holistics"],
    ):
        result = cli(*command, extra_env={"SOURCES__HOLISTICS__API_KEY": wrong})
        assert result.code == 3, result.output
        assert "AuthError: Could not authorize" in result.stderr
        for secret in (wrong, sandbox.holistics.api_key):
            assert secret not in result.output
    assert wrong not in (cli.tmp / "s.json").read_text()
    assert cli("check", "holistics").code == 0


def test_error_bodies_become_one_line_by_type(cli: Cli, sandbox: Sandbox) -> None:
    hol = sandbox.holistics
    hol.internal_errors = 50  # outlasts the retries
    failed = cli("run", "holistics", extra_env=EXPORTS_ONLY)
    assert failed.code == 1
    lines = errors(failed)
    assert lines and all("InternalHolisticsError" in line for line in lines), failed.stderr
    assert "debug id" in lines[0] and "GET /api/v2/" in lines[0]
    assert "Traceback" not in failed.stderr

    hol.internal_errors = 0
    hol.forbidden_widgets = {"104"}
    denied = cli("run", "holistics", extra_env=EXPORTS_ONLY)
    assert denied.code == 3
    assert "PermissionDeniedError on dashboard widget 104" in denied.stderr
    assert "Traceback" not in denied.stderr


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("REGION", "mars", "region"),
        ("PAGE_SIZE", "500", "page_size"),
        ("EXPORT_FILTERS", '[{"condition": {}}]', "export_filters"),
        ("WIDGETS", '{"7": {"date_filter_id": 3}}', "widgets.7"),
        ("LIST_FILTERS", '{"users": {"status": "gone"}}', "list_filters.users.status"),
        ("DATA_MODEL_PROJECTS", "[99]", "data_model_projects"),  # a project Holistics refuses
    ],
)
def test_bad_settings_exit_2_naming_the_key(cli: Cli, key: str, value: str, named: str) -> None:
    result = cli("run", "holistics", extra_env={f"SOURCES__HOLISTICS__{key}": value})
    assert result.code == 2, result.output
    assert named in result.stderr and "Traceback" not in result.stderr


def test_region_picks_the_documented_host() -> None:
    assert resolve_base_url(None, None) == "https://secure.holistics.io/api/v2"
    assert resolve_base_url(None, "apac") == "https://secure.holistics.io/api/v2"
    assert resolve_base_url(None, "EU") == "https://eu.holistics.io/api/v2"
    assert resolve_base_url(None, "us") == "https://us.holistics.io/api/v2"
    assert resolve_base_url("http://127.0.0.1:9/api/v2", "us") == "http://127.0.0.1:9/api/v2"


def test_csv_types_hold_across_blocks(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    lines = ["\ufeffid,amount,code,when"]
    lines += [f"{i},{i}.5,{i:05d},2026-01-0{1 + i % 9}" for i in range(2_000)]
    lines.append('n/a,,"",')
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

    layout = inspect_csv(path, block_size=4_096)
    tables = list(read_csv_tables(path, layout, block_size=4_096, table_rows=1))
    gathered = list(read_csv_tables(path, layout, block_size=4_096, table_rows=1_000))

    assert len(tables) > 3 and layout.rows == 2_001
    assert len(gathered) == 2 and gathered[0].num_rows >= 1_000  # blocks of ~200 rows gathered
    assert pa.concat_tables(gathered).equals(pa.concat_tables(tables))
    assert layout.types == [pa.string(), pa.float64(), pa.string(), pa.date32()]
    assert layout.names == ["id", "amount", "code", "when"]
    last = tables[-1].to_pylist()[-1]
    assert last == {"id": "n/a", "amount": None, "code": "", "when": None}
    with duckdb.connect() as con:
        blocks = pa.concat_tables(tables)  # noqa: F841 - read by DuckDB below
        assert con.sql("SELECT count(*), max(code) FROM blocks").fetchone() == (2_001, "01999")


def test_csv_spooled_blocks_equal_a_second_read(tmp_path: Path) -> None:
    """The first pass's typed spool gives exactly what casting the CSV again gives; a
    column that widens after it had values (the last id) sends the second pass back to
    the CSV, and the spool is gone."""
    path = tmp_path / "x.csv"
    lines = ["\ufeffid,amount,flag,note,late"]
    lines += [f'{i},{i}.25,{"true" if i % 2 else "false"},"a, ""b""",' for i in range(3_000)]
    lines.append('3000,1e3,true,"",2026-01-01T00:00:00Z')
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")

    layout = inspect_csv(path, block_size=4_096)
    spooled = pa.concat_tables(read_csv_tables(path, layout, block_size=4_096))
    again = pa.concat_tables(read_csv_tables(path, replace(layout, typed=None), block_size=4_096))

    assert layout.typed is not None
    spooled_files = layout.typed.paths
    assert spooled_files and all(p.exists() for p in spooled_files)
    assert spooled.equals(again) and spooled.num_rows == 3_001
    assert spooled.schema.field("late").type == pa.timestamp("us", tz="UTC")
    layout.discard()
    assert not any(p.exists() for p in spooled_files)

    path.write_text("\r\n".join([*lines, "n/a,,,,"]) + "\r\n", encoding="utf-8")
    widened = inspect_csv(path, block_size=4_096)
    assert widened.typed is None and widened.types[0] == pa.string()
    assert not list(tmp_path.rglob("*.arrow"))
    assert pa.concat_tables(read_csv_tables(path, widened, block_size=4_096)).num_rows == 3_002
