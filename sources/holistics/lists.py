"""Holistics metadata lists: data schedules, data alerts, users, groups, user attributes,
and (opt-in) every user's and group's user attribute entries.

Each list is read whole with the filters of `list_filters` and replaces its table on
every run (dlt `replace`, primary key `id`): an object Holistics deleted leaves it. A list
that cannot be read fails the run before anything is loaded, so a failed listing never
empties a table. What List Users and List Groups send beside each page is kept:
- `user_counters` (counter, value): List Users' `counters`, as the first page gives them;
- `user_groups` (user_id, group_id + the group's fields): List Users' `groups` map;
- `group_users` (group_id, user_id + the user's fields): List Groups' `users` map
  (`list_filters.groups.include_users = true`).
The doc shows both maps as `{}`; a map keyed by the listed objects' ids (`{"3": {group}}`)
and one keyed by the owner (`{"<user id>": [groups]}`) are both read. An entry no listed
object refers to cannot be placed and fails the list."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import dlt

from sources.common.completeness import unreadable
from sources.common.http import VendorHttp
from sources.common.names import with_fields
from sources.holistics import client
from sources.holistics.client import SOURCE, HolisticsConfig
from sources.holistics.objects import Reader

log = logging.getLogger(__name__)
Beside = Callable[[list[dict[str, Any]], dict[str, Any]], list[Any]]
USERS = {"source": SOURCE, "endpoint": "GET /users"}
GROUPS = {"source": SOURCE, "endpoint": "GET /groups"}

# name, path, response key, JSON columns (deep definitions kept whole)
LISTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("data_schedules", "/data_schedules", "data_schedules", ("dest",)),
    ("data_alerts", "/data_alerts", "data_alerts", ("dest", "viz_conditions")),
    ("users", "/users", "users", ()),
    ("groups", "/groups", "groups", ()),
    ("user_attributes", "/user_attributes", "user_attributes", ()),
)
ENTRIES = "GET /user_attribute_entries"
NOTED: set[str] = set()


def list_resources(config: HolisticsConfig, params: dict[str, dict[str, str]]) -> list[Any]:
    besides: dict[str, Callable[[], Beside]] = {"users": users_beside, "groups": groups_beside}
    return [
        listing(config, name, path, key, columns, params.get(name, {}), besides.get(name))
        for name, path, key, columns in LISTS
    ]


def listing(
    config: HolisticsConfig,
    name: str,
    path: str,
    key: str,
    json_columns: tuple[str, ...],
    params: dict[str, str],
    beside: Callable[[], Beside] | None,
) -> Any:
    @dlt.resource(
        name=name,
        write_disposition="replace",
        primary_key="id",
        columns={c: {"data_type": "json"} for c in json_columns},
    )
    async def resource() -> AsyncIterator[Any]:
        kept: list[Any] = []  # the tables of what came beside the pages
        keep = beside() if beside else None
        on_body = (lambda body: kept.extend(keep(body[key], body))) if keep else None
        async with client.session(config) as session:
            async for page in client.pages(session, config, path, key, params, on_body):
                # keys that snake-case alike (`fooBar`, `foo_bar`) keep both values
                yield [with_fields(item, {}) for item in page]
                for table in kept:
                    yield table
                kept.clear()
        for table in kept:  # beside a last page that was empty
            yield table

    return resource


def users_beside() -> Beside:
    """List Users' `counters` (from the first page) and `groups` map, as tables."""
    counted: list[bool] = []

    def keep(page: list[dict[str, Any]], body: dict[str, Any]) -> list[Any]:
        found = []
        counters = body.get("counters")
        if counters and not counted:
            counted.append(True)
            if not isinstance(counters, dict):
                raise unreadable("expected a 'counters' object", counters, **USERS)
            rows = [{"counter": k, "value": v} for k, v in counters.items()]
            found.append(table(rows, "user_counters", "counter"))
        rows = memberships(page, body.get("groups"), "group_ids", "user_id", "group_id", USERS)
        if rows:
            found.append(table(rows, "user_groups", ["user_id", "group_id"]))
        return found

    return keep


def groups_beside() -> Beside:
    """List Groups' `users` map (with `include_users`), as a table."""

    def keep(page: list[dict[str, Any]], body: dict[str, Any]) -> list[Any]:
        rows = memberships(page, body.get("users"), "user_ids", "group_id", "user_id", GROUPS)
        return [table(rows, "group_users", ["group_id", "user_id"])] if rows else []

    return keep


def table(rows: list[dict[str, Any]], name: str, key: str | list[str]) -> Any:
    hints = dlt.mark.make_hints(table_name=name, write_disposition="replace", primary_key=key)
    return dlt.mark.with_hints(rows, hints, create_table_variant=True)


def memberships(
    page: list[dict[str, Any]], mapping: Any, ids: str, owner: str, member: str, where: dict
) -> list[dict[str, Any]]:
    """(owner, member) rows with the member's fields, from a map beside a page: keyed by
    member id (`{"7": {...}}`, placed by the items' `ids` lists) or by owner id
    (`{"3": [{...}, …]}`)."""
    if not mapping:
        return []
    values = list(mapping.values()) if isinstance(mapping, dict) else None
    owners = {str(item["id"]): item["id"] for item in page}
    if values is not None and all(isinstance(v, list) for v in values):
        note(where, f"keys its map by {owner}")
        if set(mapping) - set(owners) or not all(
            isinstance(m, dict) and m.get("id") is not None for v in values for m in v
        ):
            raise unreadable(f"a map by {owner} of this page's items", mapping, **where)
        return [
            with_fields(m, {owner: owners[key], member: m["id"]})
            for key, found in mapping.items()
            for m in found
        ]
    if values is not None and all(isinstance(v, dict) for v in values):
        note(where, f"keys its map by {member}")
        rows = [
            with_fields(mapping[str(m)], {owner: item["id"], member: m})
            for item in page
            for m in item.get(ids) or []
            if str(m) in mapping
        ]
        placed = {str(row[member]) for row in rows}
        if set(mapping) - placed:
            raise unreadable(
                f"a map of the {member}s this page's items name; it also names "
                f"{sorted(set(mapping) - placed)}",
                mapping,
                **where,
            )
        return rows
    raise unreadable(f"a map of {member} → object or {owner} → list", mapping, **where)


def note(where: dict[str, str], form: str) -> None:
    """Say once per run how a list's map is keyed."""
    line = f"{where['endpoint']} {form}"
    if line not in NOTED:
        NOTED.add(line)
        log.info("%s: %s", SOURCE, line)


def entries_resource(config: HolisticsConfig) -> Any:
    @dlt.resource(
        name="user_attribute_entries",
        write_disposition="replace",
        primary_key=["subject_type", "subject_id", "user_attribute_id"],
    )
    async def user_attribute_entries() -> AsyncIterator[list[dict[str, Any]]]:
        """Every user's and group's entries: one List User Attribute Entries per subject."""
        async with client.session(config) as http:
            read = Reader(http, config)
            for subject_type, path in (("User", "/users"), ("Group", "/groups")):
                async for page in client.pages(http, config, path, path[1:]):
                    found = await read.each(
                        [s["id"] for s in page],
                        lambda i, kind=subject_type: entries(http, config, kind, i),
                    )
                    yield [row for rows in found for row in rows]

    return user_attribute_entries


async def entries(
    http: VendorHttp, config: HolisticsConfig, subject_type: str, subject_id: Any
) -> list[dict[str, Any]]:
    """One subject's entries, with the subject asked for (`subject_type`, `subject_id`)."""
    params = {"subject_type": subject_type, "subject_id": subject_id}
    rows = []
    key = "user_attribute_entries"
    async for page in client.pages(http, config, f"/{key}", key, params):
        for entry in page:
            if entry.get("user_attribute_id") is None:
                raise unreadable(
                    "an entry without user_attribute_id", entry, source=SOURCE, endpoint=ENTRIES
                )
            rows.append(with_fields(entry, params))
    return rows
