"""`kpi_projections`: each KPI's projections, replaced whole per KPI.

A KPI body carries its projections (`projections`, doc lines 296-306 and 614-624:
`id`, `date`, `value`, `createdById`, `dateCreated`, `dateModified`, `modifiedById`),
so they are taken from it with every field, at no request. Only a KPI whose body does
not carry them (no `projections` key, or null; an empty list is a KPI without any) is
read with `GET /v1/kpis/{kpiId}/projections` (doc lines 628-677: `{items: [{date, id,
value}], totalCount}`, fewer fields), page by page, and yielded once all pages came.

The table merges with delete-insert on `kpi_id`: the set just read replaces the KPI's
rows, so a projection the vendor deleted goes. A KPI without projections yields one
marker row that deletes its rows and is itself never stored (dlt's `hard_delete`, as
in `sources/common/snapshots.py`); a KPI whose projections could not be read yields
nothing and keeps what it had. A deleted KPI's projections stay, as its snapshots do:
`kpis` no longer lists it."""

from __future__ import annotations

from typing import Any

from sources.common.http import VendorHttp
from sources.common.names import with_fields
from sources.common.snapshots import EMPTY_MARK
from sources.quantive import client
from sources.quantive.client import QuantiveConfig, unread

COLUMNS: dict[str, Any] = {
    "value": {"data_type": "double"},
    EMPTY_MARK: {"data_type": "bool", "hard_delete": True},
}


def carried(listed: list[dict[str, Any]]) -> dict[str, Any]:
    """KPI id → the projections its body carried (None: it carried none)."""
    return {kpi["id"]: kpi.get("projections") for kpi in listed}


async def of_kpi(
    http: VendorHttp, config: QuantiveConfig, kpi_id: str, embedded: Any, endpoint: str
) -> list[dict[str, Any]]:
    """A KPI's projection rows, whole, or the one row that empties them; raises when
    they cannot be read (`endpoint`: where the KPI body came from)."""
    if embedded is None:
        path = f"/v1/kpis/{kpi_id}/projections"
        items = [item async for page in client.paged(http, config, path) for item in page]
    elif isinstance(embedded, list):
        items = embedded
        client.ids_of(endpoint)(items)  # each an object with an id: the table's key
    else:
        raise unread(f"expected KPI {kpi_id}'s projections to be a list", embedded, endpoint)
    if not items:
        return [{"kpi_id": kpi_id, "id": "", EMPTY_MARK: True}]
    return [with_fields(item, {"kpi_id": kpi_id}) for item in items]
