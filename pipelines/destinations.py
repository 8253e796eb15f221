"""Named destinations from `destinations.toml`, resolved through dlt's own config.

Each `[name]` table holds a dlt destination type (`destination`), the loader file
format, and that destination's dlt settings. The settings are registered as a dlt config
provider *after* dlt's own, so `DESTINATION__<NAME>__CREDENTIALS` and `.dlt/secrets.toml`
still win, exactly as they do for any dlt destination."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dlt
from dlt.common.configuration.providers import CustomLoaderDocProvider
from dlt.common.destination import Destination

from sources.common.errors import ConfigError

FILE = "destinations.toml"
DEFAULT = "duckdb"
# as destinations.toml has them, and why
DUCKDB = {"memory_limit": "128MB", "threads": 1, "preserve_insertion_order": False}
_registered = False


@dataclass(frozen=True)
class NamedDestination:
    name: str
    kind: str
    loader_file_format: str | None

    def make(self) -> Destination:
        return Destination.from_reference(self.kind, destination_name=self.name)


def load_file(path: Path = Path(FILE)) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {
            DEFAULT: {  # as the project's destinations.toml has it
                "destination": "duckdb",
                "credentials": {"database": "data/warehouse.duckdb", "global_config": DUCKDB},
                "loader_file_format": "parquet",
            }
        }
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None


def register(entries: dict[str, dict[str, Any]]) -> None:
    """Expose every entry's settings to dlt as `destination.<name>.<key>` (lowest priority)."""
    global _registered
    if _registered:
        return
    doc = {
        "destination": {
            name: {k: v for k, v in entry.items() if k not in ("destination", "loader_file_format")}
            for name, entry in entries.items()
        }
    }
    dlt.config.register_provider(CustomLoaderDocProvider("destinations.toml", lambda: doc))
    _registered = True


def resolve(name: str | None) -> NamedDestination:
    entries = load_file()
    name = name or DEFAULT
    if name not in entries:
        raise ConfigError(
            f"unknown destination {name!r}; {FILE} names {', '.join(sorted(entries)) or 'none'}"
        )
    entry = entries[name]
    kind = entry.get("destination")
    if not isinstance(kind, str) or not kind:
        raise ConfigError(f"[{name}] in {FILE} has no `destination` type (duckdb, postgres, …)")
    register(entries)
    if kind == "duckdb":
        database = _duckdb_file(name)
        if database is not None:
            _refuse_dataset_named_file(name, database)
            database.parent.mkdir(parents=True, exist_ok=True)  # DuckDB makes the file only
    return NamedDestination(name, kind, entry.get("loader_file_format"))


def _duckdb_file(name: str) -> Path | None:
    """The DuckDB file the destination resolves to, as dlt resolves it (environment,
    secrets, then destinations.toml): credentials are a path or a table with `database`."""
    credentials = dlt.config.get(f"destination.{name}.credentials")
    if isinstance(credentials, dict):
        credentials = credentials.get("database")
    if isinstance(credentials, str) and credentials and ":" not in credentials:
        return Path(credentials).expanduser()
    return None


def _refuse_dataset_named_file(name: str, database: Path) -> None:
    """DuckDB names a database's catalog after its file, so `quantive.duckdb` holding the
    schema `quantive` makes every `quantive.<table>` ambiguous (Binder Error) and every
    run fail. Refuse it up front with the fix, instead of failing in the middle of a load."""
    from pipelines.registry import names  # the datasets: one per source

    catalog = database.name.split(".")[0]
    if catalog.lower() in names():
        raise ConfigError(
            f"DuckDB file {database} is named like the dataset {catalog!r}: DuckDB cannot "
            f"tell the file's catalog from the dataset's schema",
            hint=f"rename it, e.g. to {database.with_name(f'{catalog}_warehouse.duckdb')}, "
            f"in DESTINATION__{name.upper()}__CREDENTIALS or [{name}] of {FILE}",
        )
