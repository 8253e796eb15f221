"""What the reports link to: Report Details, products, accounts; and `product_ids`.

Read paths (kissmetrics-api.md:48-73): each report of `GET /core/reports` links to itself
(`self`, `/core/reports/<id>`: the "Report Details" the doc names at l. 89 but never
shows), to its product (`/core/products/<id>`) and to its account (`/core/accounts/<id>`).
The doc has no list of products or accounts, so they are the ones the listed reports
link to (plus the configured `product_ids`). Each is one GET, found by the report's link
in any HAL form (`hal`), else by its `<rel>_id` field on the doc's path; the answers are
not shown, so a bare object and a `{meta, data, links}` envelope are both read.

`report_details`, `products` and `accounts` are snapshots (sources/common/snapshots.py):
a run that read every one of a table's objects replaces the table whole, so what the
vendor deleted leaves it; a run that failed to read one reports one line and keeps the
last snapshot. A link that answers 404 (deleted between the list and the read) is left
out with a note in the run summary. None of the three has a time field to filter on, so
each run reads them all: one call per report, product and account."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from functools import partial
from typing import Any

import dlt
from dlt.extract.resource import DltResource

from sources.common.completeness import unreadable
from sources.common.errors import ConfigError, config_key_help
from sources.common.http import VendorHttp, endpoint_of, parse_json
from sources.common.jobs import each
from sources.common.names import with_fields
from sources.common.snapshots import emptied, snapshot_hints
from sources.common.stats import record_part_failure, stats_for
from sources.kissmetrics import client, hal
from sources.kissmetrics.client import SOURCE, KissmetricsConfig

SNAPSHOT_KEY = "_snapshot_of"  # the table a snapshot row belongs to; delete-insert on it
LINKED = {"products": "product", "accounts": "account"}  # table → the reports' link rel
Targets = dict[str, str]  # object id → the URL it is read from


def hints(**columns: Any) -> dict[str, Any]:
    """A metadata table's hints: a snapshot (delete-insert on `SNAPSHOT_KEY`) keyed by `id`."""
    return {**snapshot_hints(SNAPSHOT_KEY), "primary_key": "id", "columns": columns}


def snapshot(table: str, objects: list[dict[str, Any]]) -> Any:
    """A table's rows for this run, or the marker that empties it when there are none."""
    if not objects:
        return emptied(SNAPSHOT_KEY, table, table=table)
    return [with_fields(item, {SNAPSHOT_KEY: table}) for item in objects]


def linked(
    reports: list[dict[str, Any]], *, rel: str, api_url: str, extra: Sequence[str] = ()
) -> Targets:
    """The objects the reports link to with `rel`, each once, in the reports' order, then
    the `extra` ids (configured `product_ids`) on the doc's path."""
    found: Targets = {}
    for report in reports:
        href = hal.related_href(report, rel)
        ident = hal.related_id(report, rel) or (hal.last_segment(href) if href else None)
        if ident and ident not in found:
            found[ident] = href or f"{api_url}/core/{rel}s/{ident}"
    for ident in extra:
        found.setdefault(ident, f"{api_url}/core/{rel}s/{ident}")
    return found


def details_of(reports: list[dict[str, Any]], *, api_url: str) -> Targets:
    """Each report's Report Details: its `self` link, else the path that link has."""
    return {
        str(r["id"]): hal.link_href(r, "self") or f"{api_url}/core/reports/{r['id']}"
        for r in reports
    }


async def read(
    http: VendorHttp, targets: Targets, what: str, workers: int
) -> tuple[list[dict[str, Any]], list[str]]:
    """GET every target, `workers` at a time: (the objects, the ids that answered 404).
    An answer that is no object fails the whole read with one line."""

    async def one(target: tuple[str, str]) -> dict[str, Any] | None:
        ident, href = target
        url = http.require_vendor_url(href, f"the {what} link")
        response = await http.request("GET", url, expect=(200, 404))
        if response.status_code == 404:
            return None
        body = parse_json(response, SOURCE)
        item = hal.single(body)
        if item is None:
            endpoint = endpoint_of("GET", url)
            raise unreadable(f"a {what} object", body, source=SOURCE, endpoint=endpoint)
        return item if item.get("id") not in (None, "") else {**item, "id": ident}

    answers = await each(targets.items(), one, concurrency=workers)
    found = [answer for answer in answers if answer is not None]
    missing = [ident for ident, answer in zip(targets, answers, strict=True) if answer is None]
    return found, missing


async def select_products(
    http: VendorHttp, listed: list[dict[str, Any]], wanted: list[str], api_url: str
) -> list[dict[str, Any]]:
    """The reports of the `product_ids` (all when empty). The doc gives the reports list
    no product parameter, so they are picked by each report's product (field or link);
    a product id no report names is asked for, and one the API does not know (404) is a
    configuration error."""
    if not wanted:
        return listed
    products = [hal.related_id(report, "product") for report in listed]
    for report, product in zip(listed, products, strict=True):
        if product is None:
            raise unreadable(
                "a report naming its product (product_id or a product link), to apply product_ids",
                report,
                source=SOURCE,
                endpoint="GET /core/reports",
            )
    if unnamed := [p for p in wanted if p not in products]:
        targets = {p: f"{api_url}/core/products/{p}" for p in unnamed}
        _, unknown = await read(http, targets, "product", 1)
        if unknown:
            raise ConfigError(
                f"product_ids names unknown product(s) {', '.join(unknown)} (GET "
                "/core/products/<id> answers 404)",
                source=SOURCE,
                resource="reports",
                hint=config_key_help(SOURCE, "product_ids"),
            )
    return [report for report, product in zip(listed, products, strict=True) if product in wanted]


def resources(
    reports: DltResource,
    config: KissmetricsConfig,
    *,
    product_ids: list[str],
    details: bool,
    workers: int,
) -> list[DltResource]:
    """`products` and `accounts`, and `report_details` unless switched off: transformers
    of the reports list, each a snapshot table of the objects it links to."""
    api_url = config.api_url
    extra = {"product": product_ids}  # configured ids read even when no report names them
    built = [
        transformer(
            reports,
            table,
            rel,
            partial(linked, rel=rel, api_url=api_url, extra=extra.get(rel, ())),
            config,
            workers,
        )
        for table, rel in LINKED.items()
    ]
    if details:
        targets = partial(details_of, api_url=api_url)
        built.append(transformer(reports, "report_details", "report", targets, config, workers))
    return built


def transformer(
    reports: DltResource,
    table: str,
    what: str,
    targets: Callable[[list[dict[str, Any]]], Targets],
    config: KissmetricsConfig,
    workers: int,
) -> DltResource:
    @dlt.transformer(data_from=reports, name=table, **hints())
    async def load(listed: Any) -> AsyncIterator[Any]:
        # the reports list, or (no reports at all) the marker that empties `reports`
        listed = listed if isinstance(listed, list) else []
        try:
            async with client.session(config) as http:
                found, missing = await read(http, targets(listed), what, workers)
        except Exception as error:
            record_part_failure(SOURCE, error, table)
            return
        for ident in missing:
            stats_for(SOURCE).skip(
                f"{table}: {what} {ident} is linked but answers 404 (deleted since the "
                "reports were listed?); left out"
            )
        yield snapshot(table, found)

    return load
