"""No secret in anything the pipeline writes; credentials only to the vendor's own hosts.

`test_no_secret_in_anything_the_pipeline_writes` runs every source for real (good runs,
a refused token, an HTML body, a 5xx storm, `check`, `status`, with and without `-v`)
and then reads back every byte written: stdout, stderr, the --summary-json files, every
file under DLT_DATA_DIR (dlt's state, trace, schemas, load packages; gzip opened) and
every string of every table in the DuckDB file (`_runs`, dlt's `_dlt_*` tables, with the
pipeline state decoded)."""

from __future__ import annotations

import base64
import binascii
import contextlib
import gzip
import os
import re
import stat
import subprocess
import zlib
from pathlib import Path

import duckdb
import pytest

from sandbox import Sandbox
from sandbox.holistics_objects import DB_PASSWORD
from tests.conftest import ROOT, Cli

ACCOUNT = "5be26318e5274a0007f17f61"  # the sandbox's Quantive account id
SECRET_KEYS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "ACCOUNT_ID", "CLIENT_ID", "USERNAME")


def secret_values(sandbox: Sandbox, *extra: str) -> set[str]:
    """Every credential the sandbox hands out (the env's secrets, the OAuth tokens it
    issued and the database password in Holistics' data sources), long enough to be
    matched: datawiz's account id (`313`) is a three-digit header value that also occurs
    in ordinary data, and is not registered as a secret."""
    values = {
        v
        for k, v in sandbox.env().items()
        if any(s in k for s in SECRET_KEYS) and not k.endswith("_URL")
    }
    tokens = sandbox.datawiz.tokens
    values |= set(tokens.access) | set(tokens.refresh) | set(extra)
    values.add(DB_PASSWORD)  # a password inside vendor data (Holistics data sources)
    return {v for v in values if len(v) >= 4}


def _unpack(data: bytes) -> list[bytes]:
    """The bytes, and what they hold when compressed (gzip, zlib, dlt's base64 state)."""
    found = [data]
    for opener in (gzip.decompress, zlib.decompress):
        with contextlib.suppress(OSError, EOFError, zlib.error):
            found.append(opener(data))
    text = data.strip()
    if len(text) > 16 and re.fullmatch(rb"[A-Za-z0-9+/=\s]+", text):
        try:
            decoded = base64.b64decode(text, validate=False)
        except (binascii.Error, ValueError):
            decoded = b""
        if decoded:
            found += _unpack(decoded)[1:] or [decoded]
    return found


def written_files(root: Path) -> dict[str, list[bytes]]:
    return {str(p): _unpack(p.read_bytes()) for p in root.rglob("*") if p.is_file()}


def warehouse_strings(db: Path) -> dict[str, list[bytes]]:
    """Every string (and JSON) value of every table, per `schema.table`."""
    found: dict[str, list[bytes]] = {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = con.sql(
            "SELECT table_schema, table_name FROM information_schema.tables"
        ).fetchall()
        for schema, table in tables:
            rows = con.sql(f'SELECT * FROM "{schema}"."{table}"').fetchall()
            values = [str(v).encode() for row in rows for v in row if isinstance(v, str | dict)]
            found[f"{schema}.{table}"] = [b for v in values for b in _unpack(v)]
    return found


def assert_no_secret(blobs: dict[str, list[bytes]], secrets: set[str]) -> None:
    leaks = [
        f"{secret!r} in {where}"
        for where, items in blobs.items()
        for data in items
        for secret in secrets
        if secret.encode() in data
    ]
    assert not leaks, "\n".join(sorted(set(leaks)))


def test_no_secret_in_anything_the_pipeline_writes(cli: Cli, sandbox: Sandbox) -> None:
    wrong = "wrong-token-a41c9e0d77f2"
    out: dict[str, list[bytes]] = {}

    def run(label: str, *args: str, expect: int, env: dict[str, str] | None = None) -> None:
        summary = cli.tmp / f"{label}.json"
        argv = [*args, "--summary-json", str(summary)] if args[0] == "run" else list(args)
        # keep the loaded packages' files (deleted by default) so they are searched too
        result = cli(*argv, extra_env={"LOAD__DELETE_COMPLETED_JOBS": "false", **(env or {})})
        assert result.code == expect, (label, result.output)
        out[f"{label}: stdout+stderr"] = [result.output.encode()]
        if summary.exists():
            out[f"{label}: summary"] = [summary.read_bytes()]

    run("all sources", "run", expect=0)
    run("check", "check", expect=0)
    run(
        "refused token",
        "run",
        "kissmetrics",
        "-v",
        expect=3,
        env={"SOURCES__KISSMETRICS__API_TOKEN": wrong},
    )
    sandbox.apply_faults("holistics.html_bodies=1")
    run("html body", "run", "holistics", "-v", expect=1)
    sandbox.apply_faults("quantive.error_burst=6")
    run("5xx storm", "run", "quantive", "-v", expect=1)
    sandbox.apply_faults("datawiz.truncated_bodies=1")
    run("cut body", "run", "datawiz", "-v", expect=1)
    run("check refused", "check", "-v", expect=3, env={"SOURCES__HOLISTICS__API_KEY": wrong})
    run("status", "status", expect=0)

    files, tables = written_files(cli.tmp / "dlt"), warehouse_strings(cli.db)
    # what the test reads is what matters: state, trace, packages and _runs are there
    names = " ".join([*files, *tables])
    assert "state.json" in names and "trace.pickle" in names and ".parquet" in names, names
    assert "kissmetrics._runs" in tables and "kissmetrics._dlt_pipeline_state" in tables
    secrets = secret_values(sandbox, wrong)
    assert_no_secret({**out, **files, **tables}, secrets - {ACCOUNT})
    # Quantive's account id is the `gtmhub-accountId` header, registered as a secret so it
    # never reaches a log line; it is also a field of the vendor's own KPI records, which
    # are loaded as they come. It must not appear anywhere *but* that vendor data.
    vendor_data = {k for k in [*files, *tables] if "kpis" in k and "_dlt" not in k}
    everything = {**out, **files, **tables}
    assert_no_secret({k: v for k, v in everything.items() if k not in vendor_data}, {ACCOUNT})


def test_the_leak_detector_finds_a_planted_secret(tmp_path: Path) -> None:
    """The collector must see through gzip and dlt's base64-zlib state encoding."""
    secret = "planted-secret-9c1e"
    (tmp_path / "a.gz").write_bytes(gzip.compress(f'{{"t": "{secret}"}}'.encode()))
    (tmp_path / "state").write_bytes(base64.b64encode(zlib.compress(secret.encode() * 3)))
    for name in ("a.gz", "state"):
        blobs = {name: _unpack((tmp_path / name).read_bytes())}
        with pytest.raises(AssertionError, match="planted"):
            assert_no_secret(blobs, {secret})


# -- credentials only to the vendor's hosts ----------------------------------------

# (vendor, the simulator's server that answers the hop, the credential headers)
CREDENTIAL_HEADERS = {
    "kissmetrics": ("api", {"authorization"}),
    "holistics": ("api", {"x-holistics-key"}),
    "quantive": ("api", {"authorization", "gtmhub-accountid"}),
    "datawiz": ("api", {"authorization", "client-id"}),
}


def _vendor_session(vendor: str, env: dict[str, str]):
    """The vendor's own `client.session` over its own config, built from the sandbox env."""
    import importlib

    from pipelines.registry import SOURCES

    client = importlib.import_module(f"sources.{vendor}.client")
    get = {k.split("__")[-1].lower(): v for k, v in env.items() if f"__{vendor.upper()}__" in k}
    configuration = SOURCES[vendor].configuration
    fields = configuration.get_resolvable_fields()
    config = configuration(**{k: v for k, v in get.items() if k in fields}).checked()
    return client.session(config)


@pytest.mark.parametrize("vendor", sorted(CREDENTIAL_HEADERS))
@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_to_a_foreign_host_never_carries_the_credentials(
    sandbox: Sandbox, vendor: str, status: int
) -> None:
    import asyncio

    import httpx

    from sandbox.server import Reply

    which, headers = CREDENTIAL_HEADERS[vendor]
    server = getattr(getattr(sandbox, vendor), which)
    target = f"{sandbox.foreign.base_url}/collect"
    server.route("GET", r".*/hop", lambda request: Reply(status, b"", headers={"Location": target}))
    base = (
        server.base_url
        + httpx.URL(
            next(
                v
                for k, v in sandbox.env().items()
                if vendor.upper() in k and k.endswith("_URL") and v.startswith(server.base_url)
            )
        ).path
    )

    async def call() -> None:
        async with _vendor_session(vendor, sandbox.env()) as http:
            await http.request("GET", f"{base}/hop", expect=(200, 404))

    asyncio.run(call())
    hop = [r for r in server.requests if r.path.endswith("/hop")]
    assert hop and headers <= set(hop[-1].headers), hop  # sent to the vendor itself
    landed = [r for r in sandbox.foreign.requests if r.path == "/collect"]
    assert landed, "the redirect was not followed"
    assert not headers & set(landed[-1].headers), landed[-1].headers


# -- TLS and secrets.toml --------------------------------------------------------------

TLS_OFF = re.compile(
    r"verify\s*=\s*(False|0|None)|CERT_NONE|check_hostname\s*=\s*False|"
    r"_create_unverified_context|PYTHONHTTPSVERIFY|SSL_CERT_FILE|trust_env\s*=\s*False"
)


def test_no_code_turns_tls_verification_off() -> None:
    hits = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for folder in ("sources", "pipelines", "orchestration")
        for path in (ROOT / folder).rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if TLS_OFF.search(line)
    ]
    assert not hits, hits


def test_secrets_toml_is_git_ignored() -> None:
    done = subprocess.run(
        ["git", "check-ignore", "--no-index", "-v", ".dlt/secrets.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert ".gitignore" in done.stdout
    example = subprocess.run(
        ["git", "check-ignore", "--no-index", ".dlt/secrets.toml.example"], cwd=ROOT
    )
    assert example.returncode == 1  # the example is committed


def _project_with_secrets(tmp_path: Path, mode: int) -> Path:
    project = tmp_path / "project"
    (project / ".dlt").mkdir(parents=True)
    (project / ".dlt" / "config.toml").write_text((ROOT / ".dlt" / "config.toml").read_text())
    secrets = project / ".dlt" / "secrets.toml"
    secrets.write_text('[sources.kissmetrics]\napi_token = "from-the-file-1234"\n')
    os.chmod(secrets, mode)
    return project


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_a_readable_secrets_toml_is_reported_with_the_fix(tmp_path: Path, mode: int) -> None:
    project = _project_with_secrets(tmp_path, mode)
    cli = Cli(tmp_path, {})
    result = cli("sources", "--project-dir", str(project))
    assert result.code == 0, result.output  # a warning, not an error
    warnings = [line for line in result.stderr.splitlines() if "secrets.toml" in line]
    assert len(warnings) == 1, result.stderr
    assert warnings[0].startswith("warning:") and f"{mode:o}" in warnings[0]
    assert f"chmod 600 {project / '.dlt' / 'secrets.toml'}" in warnings[0]
    assert "from-the-file-1234" not in result.output


def test_a_private_secrets_toml_gets_no_warning(tmp_path: Path) -> None:
    project = _project_with_secrets(tmp_path, 0o600)
    result = Cli(tmp_path, {})("sources", "--project-dir", str(project))
    assert result.code == 0 and "secrets.toml" not in result.stderr, result.output
    assert stat.S_IMODE((project / ".dlt" / "secrets.toml").stat().st_mode) == 0o600
