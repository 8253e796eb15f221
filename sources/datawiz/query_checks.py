"""The small checks of the `tables` and `reports` settings: each bad value is a
`ConfigError` naming the entry, the key and where it is set (exit 2), with a suggestion
for a typo of a documented key."""

from __future__ import annotations

import re
from typing import Any

import pendulum

from sources.common.errors import ConfigError, config_key_help
from sources.common.settings import suggestion
from sources.datawiz.config import SOURCE
from sources.datawiz.doc_keys import DIMENSIONS

METRIC = re.compile(r"^[a-z][a-z0-9_]*$")


def group_entry(where: str, item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        item = {"dimension": item}
    if not isinstance(item, dict):
        raise entry_error(
            where, f"group_by entries are dimension keys or tables, got {item!r}", "tables"
        )
    unknown = set(item) - {"dimension", "display_fields", "lookups", "on"}
    if unknown:
        raise entry_error(where, f"group_by entry has unknown key(s) {sorted(unknown)}", "tables")
    dimension = dimension_key(where, "group_by", item.get("dimension"), "tables")
    fields = item.get("display_fields") or ["name"]
    if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
        raise entry_error(where, f"display_fields of {dimension} must be a list of names", "tables")
    on = item.get("on", "row")
    if on not in ("row", "column"):
        raise entry_error(where, f"on of {dimension} must be row or column, got {on!r}", "tables")
    return {
        "dimension": dimension,
        "display_fields": list(fields),
        "lookups": lookups_of(where, dimension, item.get("lookups")),
        "on": on,
    }


def filter_entry(where: str, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise entry_error(where, f"filters entries are tables, got {item!r}", "tables")
    dimension = dimension_key(where, "filters", item.get("dimension"), "tables")
    lookups = lookups_of(where, dimension, item.get("lookups"))
    if not lookups:
        raise entry_error(
            where, f"the filter on {dimension} needs lookups include/exclude", "tables"
        )
    return {"dimension": dimension, "lookups": lookups}


def lookups_of(where: str, dimension: str, value: Any) -> dict[str, list[Any]]:
    if value is None:
        return {}
    if not isinstance(value, dict) or set(value) - {"include", "exclude"}:
        raise entry_error(
            where, f"lookups of {dimension} take only include and exclude lists", "tables"
        )
    for key, ids in value.items():
        if not isinstance(ids, list):
            raise entry_error(
                where, f"lookups.{key} of {dimension} must be a list of ids", "tables"
            )
    return {k: list(v) for k, v in value.items()}


def dimension_key(where: str, key: str, value: Any, setting: str) -> str:
    if value not in DIMENSIONS:
        raise entry_error(
            where,
            f"unknown dimension {value!r} in {key}{suggestion(value, DIMENSIONS)}; "
            "see the doc's table of dimension keys",
            setting,
        )
    return str(value)


def metric_key(where: str, value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"metric"}:
        value = value["metric"]
    if not isinstance(value, str) or not METRIC.match(value):
        raise entry_error(
            where, f"{value!r} is not a metric key (like turnover)", where.split("[")[0]
        )
    return value


def date_range_of(where: str, key: str, value: Any, allowed: frozenset[str]) -> dict[str, Any]:
    setting = where.split("[")[0]
    if not isinstance(value, dict) or value.get("selected") not in allowed:
        selected = value.get("selected") if isinstance(value, dict) else value
        raise entry_error(
            where,
            f"{key}.selected {selected!r} is not a documented key{suggestion(selected, allowed)}",
            setting,
        )
    if value["selected"] == "date":
        for bound in ("date_from", "date_to"):
            try:
                pendulum.Date.fromisoformat(str(value.get(bound)))
            except ValueError:
                raise entry_error(where, f"{key}.{bound} must be YYYY-MM-DD", setting) from None
    return dict(value)


def id_list(where: str, key: str, value: Any) -> list[int]:
    if not isinstance(value, list) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        raise entry_error(where, f"{key} must be a list of numeric ids, got {value!r}", "reports")
    return list(value)


def list_value(where: str, key: str, value: Any) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise entry_error(where, f"{key} must be a list, got {value!r}", where.split("[")[0])
    return value


def tables_list(setting: str, value: Any) -> list[dict[str, Any]]:
    if value is None:
        return []
    if isinstance(value, dict):  # a single TOML table
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(
            f"{setting} must be a list of tables (TOML [[sources.datawiz.{setting}]] or JSON)",
            source=SOURCE,
            hint=config_key_help(SOURCE, setting),
        )
    return value


def known_keys(where: str, item: dict[str, Any], known: frozenset[str], setting: str) -> None:
    for key in item:
        if key not in known:
            raise entry_error(where, f"unknown key {key!r}{suggestion(key, known)}", setting)


def unique_names(setting: str, names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ConfigError(
                f"{setting} names table {name} twice",
                source=SOURCE,
                hint=config_key_help(SOURCE, setting),
            )
        seen.add(name)


def entry_error(where: str, cause: str, setting: str) -> ConfigError:
    return ConfigError(f"{where}: {cause}", source=SOURCE, hint=config_key_help(SOURCE, setting))
