"""Holistics settings with a structure of their own (the connection is checked in
config.py): export filters and per-widget options, list filters, data model projects,
dependency types. Each bad value is a `ConfigError` naming its key (exit 2) before any
request is made."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from dlt.common.normalizers.naming.snake_case import NamingConvention

from sources.common.errors import ConfigError, config_key_help
from sources.common.settings import (
    require_non_negative,
)
from sources.holistics.config import SOURCE

log = logging.getLogger(__name__)
_naming = NamingConvention()

ROLES = ("user", "explorer", "analyst", "admin", "growth_admin", "it_admin")
# the filters each list documents (vendor-docs/holistics-api-v2.txt): a type, or the enum
LIST_FILTERS: dict[str, dict[str, Any]] = {
    "dashboards": {"include_embed_info": bool},
    "data_schedules": {
        "dest_type": ("EmailDest", "SlackDest", "Adls2Dest", "SftpDest"),
        "source_type": ("QueryReport", "Dashboard"),
        "source_id": int,
    },
    "data_alerts": {
        "search_term": str,
        "dest_type": ("EmailDest", "SlackDest"),
        "source_type": ("DashboardWidget", "VizBlock"),
        "source_id": str,  # "integer or string"
    },
    "users": {
        "search_term": str,
        "status": ("active", "deleted", "pending"),
        "role": ROLES,
        "has_authentication_token": bool,
        "exclude_deleted": bool,
    },
    "groups": {"include_users": bool},
}
DEPENDENCY_TYPES = ("DataSource", "DataSet", "DataModel")


@dataclass(frozen=True)
class Project:
    """An AML project whose data models are listed, at a branch or a commit."""

    project_id: int
    branch_name: str | None = None
    commit_oid: str | None = None

    def params(self) -> dict[str, Any]:
        asked = {"branch_name": self.branch_name, "commit_oid": self.commit_oid}
        return {"project_id": self.project_id, **{k: v for k, v in asked.items() if v}}


def _bad(key: str, message: str) -> ConfigError:
    return ConfigError(message, source=SOURCE, hint=config_key_help(SOURCE, key))


def list_params(value: object) -> dict[str, dict[str, str]]:
    """`list_filters`: per list, its documented filters as query parameters."""
    if not value:
        return {}
    if not isinstance(value, dict):
        raise _bad("list_filters", "list_filters must be a table of list → filters")
    found: dict[str, dict[str, str]] = {}
    for name, filters in value.items():
        known = LIST_FILTERS.get(name)
        if known is None or not isinstance(filters, dict):
            raise _bad(
                "list_filters",
                f"list_filters.{name} must be a table of filters of one of "
                f"{', '.join(LIST_FILTERS)}",
            )
        found[name] = {k: _filter_value(name, k, v, known.get(k)) for k, v in filters.items()}
    return found


def _filter_value(name: str, key: str, value: object, kind: Any) -> str:
    """One filter's value as the query string spells it; an unknown filter or a value
    outside its enum or type is refused."""
    where = f"list_filters.{name}.{key}"
    if kind is None:
        known = ", ".join(LIST_FILTERS[name])
        raise _bad("list_filters", f"{where}: {name} takes only {known}")
    if kind is bool and isinstance(value, bool):
        return "true" if value else "false"
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if kind is str and isinstance(value, str | int) and not isinstance(value, bool):
        return str(value)
    if isinstance(kind, tuple) and value in kind:
        return str(value)
    wanted = "one of " + ", ".join(kind) if isinstance(kind, tuple) else f"a {kind.__name__}"
    raise _bad("list_filters", f"{where} must be {wanted}, got {value!r}")


def model_projects(value: object) -> list[Project]:
    """`data_model_projects`: project ids, or tables {project_id, branch_name, commit_oid}."""
    projects: list[Project] = []
    for item in value or []:
        spec = item if isinstance(item, dict) else {"project_id": item}
        project = spec.get("project_id")
        extra = set(spec) - {"project_id", "branch_name", "commit_oid"}
        if isinstance(project, bool) or not str(project).isdigit() or extra:
            raise _bad(
                "data_model_projects",
                "data_model_projects must list AML project ids or "
                f"{{project_id, branch_name, commit_oid}} tables, got {item!r}",
            )
        projects.append(Project(int(str(project)), spec.get("branch_name"), spec.get("commit_oid")))
    ids = [p.project_id for p in projects]
    if len(set(ids)) != len(ids):
        raise _bad("data_model_projects", f"data_model_projects names a project twice: {ids}")
    return projects


def dependency_types(value: object) -> tuple[str, ...]:
    """`dependency_types`: the object types whose downstream dependencies are read."""
    types = [value] if isinstance(value, str) else list(value or [])
    unknown = [t for t in types if t not in DEPENDENCY_TYPES]
    if unknown:
        raise _bad(
            "dependency_types",
            f"dependency_types takes {', '.join(DEPENDENCY_TYPES)}; got {unknown}",
        )
    return tuple(dict.fromkeys(types))


def check_conditions(key: str, value: object) -> list[dict[str, Any]]:
    """`dashboard_filter_conditions` items: {dynamic_filter_id, condition: {operator, values}}."""
    if value is None:
        return []
    items = value if isinstance(value, list) else None
    ok = items is not None and all(
        isinstance(c, dict)
        and c.get("dynamic_filter_id") is not None
        and isinstance(c.get("condition"), dict)
        and c["condition"].get("operator")
        for c in items
    )
    if not ok:
        raise ConfigError(
            f"{key} must be a list of {{dynamic_filter_id, condition: {{operator, values}}}}",
            source=SOURCE,
            hint=config_key_help(SOURCE, key),
        )
    return [dict(c) for c in items or []]


def widget_options(value: object) -> dict[str, dict[str, Any]]:
    """Per-widget settings `[sources.holistics.widgets.<id>]`, validated."""
    if not value:
        return {}
    if not isinstance(value, dict):
        raise ConfigError(
            "widgets must be a table of widget id → settings",
            source=SOURCE,
            hint=config_key_help(SOURCE, "widgets"),
        )
    options: dict[str, dict[str, Any]] = {}
    for widget_id, settings in value.items():
        key = f"widgets.{widget_id}"
        if not isinstance(settings, dict):
            raise ConfigError(
                f"{key} must be a table of settings, got {settings!r}",
                source=SOURCE,
                hint=config_key_help(SOURCE, "widgets"),
            )
        filters = check_conditions(f"{key}.filters", settings.get("filters"))
        date_filter = settings.get("date_filter_id")
        keys = settings.get("primary_key")
        if isinstance(keys, str):
            keys = [keys]
        if (date_filter is None) != (not keys):
            raise ConfigError(
                f"{key} needs both date_filter_id and primary_key for incremental exports",
                source=SOURCE,
                hint=config_key_help(SOURCE, "widgets"),
            )
        lookback = settings.get("lookback_days")
        options[str(widget_id)] = {
            "filters": filters,
            "date_filter_id": date_filter,
            "primary_key": [_naming.normalize_identifier(str(k)) for k in keys or []],
            "lookback_days": None
            if lookback is None
            else int(require_non_negative(SOURCE, f"{key}.lookback_days", lookback)),
        }
    return options
