"""The `kpis` list: the KPIs asked for by id, and each KPI's shape as it loads."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sources.common.errors import ConfigError, config_key_help
from sources.common.http import VendorHttp
from sources.common.jobs import fan_in
from sources.common.names import with_fields
from sources.quantive import client
from sources.quantive.client import SOURCE, unread
from sources.quantive.config import QuantiveConfig

# the expanded links of a KPI → the child table each becomes (kpis__<name>)
LINKS = {"goals": "goals", "metrics": "metrics", "sessions": "sessions", "kpis": "linked_kpis"}
KPI_JSON = (
    "groups",
    "owner_ids",
    "current_user_allowed_actions",
    "insight_link",
    "links__expanded",
)


def shape_kpi(kpi: dict[str, Any], endpoint: str) -> dict[str, Any]:
    """The KPI's own fields, with its expanded links hoisted into child lists that carry
    `kpi_id`; `projections` go to their own table. A link that is not an object fails
    the list: a child row silently dropped is a lost row. Other links, expanded or not,
    stay under `links` (`links__expanded` is JSON), and a vendor field named like a
    child list keeps its data under `<name>__vendor`: nothing is dropped or overwritten."""
    vendor = {key: value for key, value in kpi.items() if key not in ("links", "projections")}
    links = kpi.get("links") or {}
    if not isinstance(links, dict) or not isinstance(links.get("expanded") or {}, dict):
        raise unread("expected the KPI's links to be {expanded: {...}}", links, endpoint)
    expanded = links.get("expanded") or {}
    rest = {key: value for key, value in links.items() if key != "expanded"}
    other = {key: value for key, value in expanded.items() if key not in LINKS}
    if other:
        rest["expanded"] = other
    if rest:  # not documented: kept, not dropped
        vendor["links"] = rest
    children = {
        name: [
            with_fields(item, {"kpi_id": kpi["id"]}) for item in _link_list(expanded, key, endpoint)
        ]
        for key, name in LINKS.items()
    }
    return with_fields(vendor, children)


def _link_list(expanded: dict[str, Any], key: str, endpoint: str) -> list[dict[str, Any]]:
    items = expanded.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        what = f"expected links.expanded.{key} to be a list of objects"
        raise unread(what, items, endpoint)
    return items


async def kpis_by_id(
    http: VendorHttp, config: QuantiveConfig, wanted: Sequence[str]
) -> list[dict[str, Any]]:
    """The KPIs of `kpi_ids`, in that order; an id the account does not have is a
    configuration error naming them all."""

    async def one(kpi_id: str) -> AsyncIterator[dict[str, Any] | None]:
        yield await client.get_kpi(http, config, kpi_id)

    found: dict[str, dict[str, Any] | None] = {}
    async for outcome in fan_in(wanted, one, concurrency=config.concurrency):
        if outcome.error is not None:
            raise outcome.error
        if not outcome.done:
            found[outcome.spec] = outcome.item
    unknown = [kpi_id for kpi_id in wanted if found.get(kpi_id) is None]
    if unknown:
        raise ConfigError(
            f"kpi_ids names KPI(s) the account does not have: {', '.join(unknown)}",
            source=SOURCE,
            resource="kpis",
            hint=config_key_help(SOURCE, "kpi_ids"),
        )
    return [found[kpi_id] for kpi_id in wanted]
