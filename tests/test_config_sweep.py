"""Every setting of every source, tried with bad values: exit 2, one line naming the key.

The cases come from `.dlt/config.toml` and `.dlt/secrets.toml.example` themselves, so a
new setting is swept as soon as it is documented. Validation happens when a source is
built, before any HTTP, so the cases run many to a subprocess (`probe`, below): each
builds the source exactly as `python -m pipelines run` does (`build_sources`) and
classifies the failure with `pipelines.failures.classify`, the CLI's own mapping. A
representative subset then goes through the real CLI (`run` and `check`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from pipelines.registry import names
from tests.conftest import ROOT, Cli

CONFIG = tomllib.loads((ROOT / ".dlt" / "config.toml").read_text())["sources"]
SECRETS = tomllib.loads((ROOT / ".dlt" / "secrets.toml.example").read_text())["sources"]
VENDORS = tuple(names())

# A valid configuration per source, with no reachable host (nothing here may reach a real
# vendor): the baseline every case changes one key of.
NOWHERE = "https://vendor.invalid"
BASE: dict[str, dict[str, str]] = {
    "datawiz": {
        "TOKEN_URL": f"{NOWHERE}/o/token/",
        "API_URL": NOWHERE,
        "BI_URL": NOWHERE,
        "CLIENT_ID": "probe-client-id-1",
        "CLIENT_SECRET": "probe-client-secret-1",
        "USERNAME": "probe@example.com",
        "PASSWORD": "probe-password-1",
        "ACCOUNT_ID": "313",
        "START_DATE": "2026-01-01",
        "TABLES": json.dumps([{"name": "t", "aggregate": ["turnover"], "group_by": ["shop"]}]),
    },
    "holistics": {"API_KEY": "probe-api-key-1", "START_DATE": "2026-01-01", "BASE_URL": NOWHERE},
    "quantive": {
        "ACCESS_TOKEN": "probe-token-1",
        "ACCOUNT_ID": "probe-account-1",
        "START_DATE": "2026-01-01",
        "BASE_URL": NOWHERE,
    },
    "kissmetrics": {
        "API_TOKEN": "probe-token-2",
        "START_DATE": "2026-01-01",
        "API_URL": NOWHERE,
        "QUERY_URL": NOWHERE,
    },
}

# numbers where 0 is a valid choice (no lookback, no wait)
ZERO_OK = {"lookback_days", "backoff_initial", "max_retry_after"}
BAD_URLS = ["ftp://files.example.com", "not a url", "http://vendor.example.com", ""]
BAD_DATES = ["2026-13-45", "2026-02-30", "yesterday", "01/02/2026"]
BAD_ID_LISTS = ['{"a": 1}', "[[1, 2]]", '[{"id": 1}]']
SPECIAL: dict[tuple[str, str], list[str]] = {
    ("datawiz", "tables"): ['{"a": 1}', "[1]", '[{"name": "x"}]', '[{"aggregate": ["qty"]}]'],
    ("datawiz", "reports"): ['{"a": 1}', "[1]", '[{"report": "r"}]', '[{"widget": "w"}]'],
    ("datawiz", "time_zone"): ["Mars/Olympus", "UTC+99"],
    ("kissmetrics", "time_zone"): ["Mars/Olympus", "UTC+99"],
    ("quantive", "time_zone"): ["Mars/Olympus", "UTC+99", "UTC+3:75"],
    ("quantive", "group_by"): ["fortnight", ""],
    ("quantive", "statistics_periods"): ['["decade"]', '{"a": 1}'],
    ("holistics", "region"): ["mars"],
    ("holistics", "base_url"): BAD_URLS[:3],  # empty = unset: `region` picks the host
    ("holistics", "export_filters"): ['[{"x": 1}]', '"abc"', '[{"dynamic_filter_id": 1}]'],
    ("holistics", "widgets"): ['{"4175": 5}', "[1, 2]", '{"4175": {"date_filter_id": 1}}'],
    ("kissmetrics", "report_columns"): ["[1, 2]", '{"r": 5}', '{"r": [1, {"a": 2}]}'],
    ("kissmetrics", "schema_contract"): ["bogus"],
}


def _bad_values(source: str, key: str, default: Any) -> list[str]:
    leaf = key.rsplit(".", 1)[-1]
    if (source, key) in SPECIAL:
        return SPECIAL[(source, key)]
    if leaf.endswith("_url"):
        return BAD_URLS
    if leaf == "start_date":
        return BAD_DATES
    if leaf.endswith("_ids"):
        return BAD_ID_LISTS
    if isinstance(default, bool):
        return ["maybe"]
    if isinstance(default, int | float):
        return ["abc", "-1", "1e400", *([] if leaf in ZERO_OK else ["0"])]
    raise AssertionError(f"no bad values for {source}.{key} = {default!r}: add them to SPECIAL")


def _settings(source: str) -> list[tuple[str, Any]]:
    """Every documented key of `[sources.<source>]` (sub-tables as dotted keys)."""
    found: list[tuple[str, Any]] = [("start_date", "2026-01-01")]  # documented, commented out
    for key, value in CONFIG[source].items():
        if key in ("http",):
            found += [(f"{key}.{sub}", v) for sub, v in value.items()]
        else:
            found.append((key, value))
    if source == "holistics":
        found.append(("base_url", "https://secure.holistics.io/api/v2"))  # commented out
    return found


def env_name(source: str, key: str) -> str:
    return "__".join(["SOURCES", source.upper(), *key.upper().split(".")])


def _cases() -> list[dict[str, Any]]:
    cases = []
    for source in VENDORS:
        for key, default in _settings(source):
            for value in _bad_values(source, key, default):
                cases.append({"source": source, "key": key, "set": {env_name(source, key): value}})
        for key in SECRETS[source]:
            for value in ("", "   "):
                cases.append({"source": source, "key": key, "set": {env_name(source, key): value}})
            cases.append({"source": source, "key": key, "unset": [env_name(source, key)]})
    cases.append(
        {
            "source": "datawiz",
            "key": "account_id",
            "set": {env_name("datawiz", "account_id"): "abc"},
        }
    )
    # nothing to load: datawiz needs a table or a report
    cases.append({"source": "datawiz", "key": "tables", "set": {"SOURCES__DATAWIZ__TABLES": "[]"}})
    return cases


CASES = _cases()


def _base_env(project: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SOURCES__", "DESTINATION__"))}
    for source, values in BASE.items():
        env.update({f"SOURCES__{source.upper()}__{k}": v for k, v in values.items()})
    env.update(RUNTIME__LOG_LEVEL="WARNING", DLT_DATA_DIR=str(project / "dlt"))
    return env


def probe() -> None:
    """In a subprocess: build each case's source as `run` does; print what classify says."""
    from pipelines import project
    from pipelines.failures import classify
    from pipelines.results import Backfill
    from pipelines.runner import build_sources

    project.enter_project(os.environ["DLT_PROJECT_DIR"])
    results = []
    for case in json.load(sys.stdin):
        saved = dict(os.environ)
        os.environ.update(case.get("set", {}))
        for name in case.get("unset", []):
            os.environ.pop(name, None)
        try:
            build_sources([case["source"]], Backfill(None, None))
            outcome: dict[str, Any] = {"code": 0, "line": "built without complaint"}
        except BaseException as exc:  # anything is a finding
            code, line = classify(exc, case["source"])
            outcome = {"code": code, "line": line}
        finally:
            os.environ.clear()
            os.environ.update(saved)
        results.append({**case, **outcome})
    json.dump(results, sys.stdout)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with the shipped config.toml and no secrets.toml."""
    root = tmp_path_factory.mktemp("project")
    (root / ".dlt").mkdir()
    shutil.copy(ROOT / ".dlt" / "config.toml", root / ".dlt" / "config.toml")
    return root


@pytest.fixture(scope="module")
def swept(project: Path) -> list[dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-c", "from tests.test_config_sweep import probe; probe()"],
        input=json.dumps(CASES),
        cwd=ROOT,
        env={**_base_env(project), "DLT_PROJECT_DIR": str(project)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_sweep_covers_every_documented_key() -> None:
    keys = {(c["source"], c["key"]) for c in CASES}
    for source in VENDORS:
        documented = {k for k, _ in _settings(source)} | set(SECRETS[source])
        assert documented <= {k for s, k in keys if s == source}
        assert {"http.max_attempts", "start_date"} <= documented
    assert len(CASES) > 200


def _problems(result: dict[str, Any]) -> list[str]:
    source, key, line = result["source"], result["key"], result["line"]
    secret = key in SECRETS[source]
    leaf = key.rsplit(".", 1)[-1]
    problems = []
    if result["code"] != 2:
        problems.append(f"exit {result['code']}")
    if "\n" in line or "Traceback" in line:
        problems.append("not one line")
    if leaf not in line:
        problems.append("key not named")
    if env_name(source, key) not in line:
        problems.append(f"{env_name(source, key)} not named")
    if (".dlt/secrets.toml" if secret else ".dlt/config.toml") not in line:
        problems.append("file not named")
    if not line.startswith(f"{source}: "):
        problems.append("source not named")
    return problems


def test_every_bad_value_of_every_key_exits_2_naming_the_key_and_where_it_is_set(
    swept: list[dict[str, Any]],
) -> None:
    failures = [
        f"{r['source']}.{r['key']} = {r.get('set', 'unset')}: {', '.join(p)} → {r['line']}"
        for r in swept
        if (p := _problems(r))
    ]
    assert not failures, "\n".join(failures)


def test_no_secret_value_is_echoed_in_a_configuration_error(swept: list[dict[str, Any]]) -> None:
    secrets = [v for values in BASE.values() for k, v in values.items() if "probe" in v]
    leaked = [r["line"] for r in swept if any(s in r["line"] for s in secrets)]
    assert not leaked


# -- the real CLI --------------------------------------------------------------------


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


@pytest.fixture
def offline(tmp_path: Path, project: Path) -> Cli:
    """The CLI on a project with no secrets.toml and hosts nobody listens on."""
    cli = Cli(tmp_path, {})
    cli.env.update(_base_env(project))
    cli.env["DLT_PROJECT_DIR"] = str(project)
    cli.env["DLT_DATA_DIR"] = str(tmp_path / "dlt")
    return cli


CLI_CASES = [
    ("kissmetrics", "window_days", "abc"),
    ("kissmetrics", "start_date", "2026-13-45"),
    ("quantive", "http.max_attempts", "zero"),
    ("quantive", "group_by", "fortnight"),
    ("holistics", "base_url", "http://secure.holistics.io/api/v2"),
    ("holistics", "widget_ids", '{"a": 1}'),
    ("datawiz", "tables", "[1]"),
    ("datawiz", "password", ""),
]


@pytest.mark.parametrize("command", ["run", "check"])
def test_the_cli_exits_2_with_one_line_for_bad_settings(offline: Cli, command: str) -> None:
    for source, key, value in CLI_CASES:
        if command == "check" and key not in ("password", "base_url", "http.max_attempts"):
            continue  # check validates the connection settings only
        result = offline(command, source, extra_env={env_name(source, key): value})
        errors = _errors(result.stderr)
        assert result.code == 2, (source, key, result.output)
        assert len(errors) == 1, result.stderr
        assert env_name(source, key) in errors[0] and key.rsplit(".")[-1] in errors[0]
        assert "Traceback" not in result.output


def test_a_missing_secret_names_secrets_toml_and_its_variable(offline: Cli) -> None:
    env = {k: v for k, v in offline.env.items() if k != "SOURCES__KISSMETRICS__API_TOKEN"}
    offline.env = env
    for command in ("run", "check"):
        result = offline(command, "kissmetrics")
        assert result.code == 2, result.output
        [error] = _errors(result.stderr)
        assert ".dlt/secrets.toml" in error and "SOURCES__KISSMETRICS__API_TOKEN" in error


def test_a_bad_value_in_config_toml_is_reported_like_one_from_the_environment(
    tmp_path: Path, project: Path
) -> None:
    own = tmp_path / "own"
    shutil.copytree(project, own)
    config = own / ".dlt" / "config.toml"
    config.write_text(
        config.read_text()
        .replace("window_days = 7 ", 'window_days = "weekly" ', 1)
        .replace("max_connections = 16", "max_connections = -2", 1)  # datawiz's, first
    )
    cli = Cli(tmp_path, {})
    cli.env.update({**_base_env(own), "DLT_PROJECT_DIR": str(own)})
    result = cli("run", "kissmetrics")
    assert result.code == 2, result.output
    [error] = _errors(result.stderr)
    assert "window_days" in error and ".dlt/config.toml" in error
    result = cli("run", "datawiz")
    assert result.code == 2, result.output
    [error] = _errors(result.stderr)
    assert "[sources.datawiz.http]" in error and "SOURCES__DATAWIZ__HTTP__MAX_CONNECTIONS" in error


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_host_fails_the_source_with_one_line_in_run_and_check(
    offline: Cli,
) -> None:
    """Decision: exit 1, the same in run and check. The settings are valid; the host did
    not answer (down, firewalled, or a wrong URL) — a source failure, which orchestrators
    retry, not a configuration error that nothing but an edit can fix. The line names the
    host and port, the settings section the URL comes from, and the cause."""
    url = f"http://127.0.0.1:{_closed_port()}"
    env = {
        "SOURCES__KISSMETRICS__API_URL": url,
        "SOURCES__KISSMETRICS__QUERY_URL": url,
        "SOURCES__KISSMETRICS__HTTP__MAX_ATTEMPTS": "2",
    }
    for command in ("run", "check"):
        result = offline(command, "kissmetrics", extra_env=env)
        assert result.code == 1, result.output
        [error] = _errors(result.stderr)
        assert "Traceback" not in result.output
        assert "ConnectError" in error and url.removeprefix("http://") in error, error
        assert "URL settings in [sources.kissmetrics]" in error, error


UNKNOWN_IDS = [
    ("kissmetrics", "report_ids", '["no-such-report"]'),
    ("holistics", "widget_ids", "[987654]"),
    ("quantive", "kpi_ids", '["no-such-kpi"]'),
    (
        "datawiz",
        "tables",
        json.dumps([{"name": "t", "aggregate": ["no_such_metric"], "group_by": ["shop"]}]),
    ),
    (
        "datawiz",
        "reports",
        json.dumps([{"report": "no-such-report", "widget": "table", "metrics": ["turnover"]}]),
    ),
]


def test_unknown_ids_fail_with_one_line_naming_the_setting(cli: Cli) -> None:
    for source, key, value in UNKNOWN_IDS:
        env = {env_name(source, key): value}
        if source == "datawiz":  # only the bad entry
            env[env_name(source, "reports" if key == "tables" else "tables")] = "[]"
        result = cli("run", source, extra_env=env)
        errors = _errors(result.stderr)
        assert result.code in (1, 2), (source, key, result.output)
        assert "Traceback" not in result.output
        wrong = ("no_such", "no-such", "987654")
        assert errors and all(any(w in e for w in wrong) for e in errors), (source, key, errors)
        if source != "datawiz":  # ids the source can look up: a configuration error
            assert result.code == 2 and key in errors[0], (source, key, errors)
