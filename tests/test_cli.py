"""The command line as users and orchestrators see it: project discovery, destinations.toml,
usage errors, the sources listing and the demo."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipelines import demo
from pipelines.registry import names
from sandbox import Sandbox
from sources.common.errors import ConfigError
from tests.conftest import FAST, ROOT, Cli


def project_copy(tmp: Path) -> Path:
    """A project directory of our own: the real .dlt/ and destinations.toml, nothing else."""
    project = tmp / "project"
    shutil.copytree(ROOT / ".dlt", project / ".dlt", ignore=shutil.ignore_patterns("secrets.toml"))
    shutil.copy(ROOT / "destinations.toml", project / "destinations.toml")
    return project


def test_runs_from_root_with_project_dir_and_destinations_toml(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    project = project_copy(tmp_path)
    cli = Cli(tmp_path, sandbox.env())
    env = {k: v for k, v in cli.env.items() if not k.startswith("DESTINATION__")}
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "run", "kissmetrics", "--project-dir", str(project)],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    warehouse = project / "data" / "warehouse.duckdb"  # destinations.toml's relative path
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.sql("SELECT count(*) FROM kissmetrics.reports").fetchone() == (3,)


def test_unknown_destination_and_bad_dates_are_usage_errors(cli: Cli) -> None:
    for args, named in (
        (["--destination", "nowhere"], "unknown destination 'nowhere'"),
        (["--start", "last tuesday"], "--start 'last tuesday' is not an ISO date"),
        (["--start", "2026-05-02", "--end", "2026-05-01"], "is not after --start"),
    ):
        result = cli("run", "kissmetrics", *args)
        assert result.code == 2, result.output
        assert named in result.stderr


@pytest.mark.parametrize("file", ["quantive.duckdb", "Kissmetrics.db"])
def test_a_duckdb_file_named_like_a_dataset_is_refused_with_the_fix(cli: Cli, file: str) -> None:
    """DuckDB calls the catalog after the file: `quantive.duckdb` + schema `quantive` made
    every run fail with a Binder Error ("Ambiguous reference to catalog or schema")."""
    path = cli.tmp / "dbs" / file
    result = cli("run", "kissmetrics", extra_env={"DESTINATION__DUCKDB__CREDENTIALS": str(path)})
    assert result.code == 2, result.output
    [line] = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert f"DuckDB file {path} is named like the dataset" in line
    assert "_warehouse.duckdb" in line and "DESTINATION__DUCKDB__CREDENTIALS" in line
    assert not path.exists()


def test_unknown_command_and_source_exit_2(cli: Cli) -> None:
    assert cli("explode").code == 2
    result = cli("run", "salesforce")
    assert result.code == 2 and "unknown source(s) salesforce" in result.stderr


def test_sources_lists_resources_keys_and_cursors(cli: Cli) -> None:
    result = cli("sources")
    assert result.code == 0, result.output
    for name in names():
        assert f"\n{name}\n" in f"\n{result.stdout}"
    assert "report_results       merge    primary key: -; merge key: _window_start" in result.stdout
    assert "cursor:" in result.stdout


def test_missing_project_dir_is_a_configuration_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "sources", "--project-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "has no .dlt/ folder" in done.stderr


@pytest.mark.timeout(300)
def test_demo_loads_every_source_and_shows_a_query(tmp_path: Path) -> None:
    project = project_copy(tmp_path)
    env = {k: v for k, v in Cli(tmp_path, {}).env.items() if not k.startswith("DESTINATION__")}
    env.update(FAST)
    done = subprocess.run(
        [sys.executable, "-m", "pipelines", "demo", "--rows", "300", "--project-dir", str(project)],
        env=env,
        capture_output=True,
        text=True,
        timeout=280,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "run summary" in done.stdout and "FROM kissmetrics." in done.stdout
    with duckdb.connect(str(project / "data" / "demo.duckdb"), read_only=True) as con:
        schemas = {row[0] for row in con.sql("SELECT schema_name FROM duckdb_schemas()").fetchall()}
        assert set(names()) <= schemas


def test_demo_without_the_sandbox_says_to_run_it_from_a_clone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The installed package has no sandbox/: the demo stops with a configuration error
    (one line, exit 2) before it touches anything."""
    monkeypatch.setitem(sys.modules, "sandbox", None)  # as where only the package is installed
    monkeypatch.chdir(tmp_path)
    with (
        pytest.raises(ConfigError, match=r"the demo needs the vendor simulators in sandbox/"),
        demo.sandboxed(rows=10),
    ):
        pass
    assert not (tmp_path / "data").exists()


def test_duckdb_out_of_memory_names_the_setting_that_fixes_it(tmp_path: Path) -> None:
    import duckdb

    from pipelines.failures import classify

    con = duckdb.connect(str(tmp_path / "x.duckdb"), config={"memory_limit": "2MB"})
    with con, pytest.raises(duckdb.OutOfMemoryException) as raised:
        con.sql("SELECT length(list(range)) FROM range(3000000)").fetchall()
    code, line = classify(raised.value, "quantive")
    assert code == 1
    assert line.startswith("quantive: OutOfMemoryException: Out of Memory Error")
    assert "raise memory_limit in destinations.toml" in line and "Possible solutions" not in line


def test_asyncio_tracebacks_of_unclosed_generators_are_dropped_unless_verbose() -> None:
    from pipelines.cli import _drop_asyncgen_close_noise

    def record(message: str) -> logging.LogRecord:
        return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, message, None, None)

    noise = record("an error occurred during closing of asynchronous generator <x>")
    root = logging.getLogger()
    level = root.level
    try:
        root.setLevel(logging.INFO)
        assert not _drop_asyncgen_close_noise(noise)
        assert _drop_asyncgen_close_noise(record("Task exception was never retrieved"))
        root.setLevel(logging.DEBUG)  # --verbose
        assert _drop_asyncgen_close_noise(noise)
    finally:
        root.setLevel(level)
