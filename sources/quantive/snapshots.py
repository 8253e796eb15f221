"""Snapshot answers → Arrow tables (one per batch, or per KPI of an account-wide read).

The doc shows no body for `GET /v1/kpi-snapshots`, and for `GET /v2/kpis/snapshots`
only a DTO name ("kpiSnapshotGroupsByKpiDto") and the sample `{}`, so every shape a
reading of either allows is accepted for both, and the one the vendor speaks is logged:
- an object keyed by KPI id, each a list of snapshot records;
- `{items: [{kpiId, snapshots | groups: [...]}]}`;
- `{items: [flat records with kpiId], totalCount}` (paged by the client to its end);
- a bare array of either kind of item.
A snapshot record names its group by a `group` label (`2022-W36`, the doc's snapshot
DTO) or a `date` (the doc's projection DTO; a timestamp counts by its day in the
requested time zone), carries a `value` (a number, or a numeric string), and may carry
its own `kpiId`, `timeZone`, `id` or new fields: those are kept, under `__vendor` names
where they meet the columns this source adds. Fields of an item that groups a KPI's
records (`{kpiId, unit, snapshots}`) go onto each of its rows. A body or record outside
these forms fails its batch with one line showing what came; a `Tally` makes sure every
record received is a row, and two records for one KPI and group fail their batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import pendulum
import pyarrow as pa
import pyarrow.compute as pc

from sources.common.completeness import RepeatGuard, Tally
from sources.common.records import records_to_table
from sources.quantive import periods
from sources.quantive.client import SOURCE, note, unread

CURSOR = "snapshot_date"
# the columns this source adds; vendor fields of the same name get `__vendor` names
ADDED = ("kpi_id", CURSOR, "group_by", "time_zone")
SNAPSHOT_TYPES = {"group": pa.string(), "value": pa.float64()}
GROUPED = ("snapshots", "groups")  # an item's list of snapshot records
# a grouping item's own fields never take these names: the record's fields have them
RECORD_FIELDS = ("group", "date", "value", "value__v_text")
_NUMBER = r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$"


Records = tuple[list[dict[str, Any]], list[str], list[dict[str, Any]]]


def read_body(body: Any, asked: Sequence[str] | None, endpoint: str) -> Records:
    """The snapshot records of one answer, the KPI id each belongs to, and the fields
    of the item that grouped it (`{}` for records that came on their own). `asked` is
    None for an account-wide read: an object is then keyed by KPI id when every value
    is a list (the doc's sample answer of `/v2/kpis/snapshots` is `{}`)."""
    if isinstance(body, dict) and "items" in body:
        body = body["items"]
    if isinstance(body, list):
        return _read_items(body, asked or (), endpoint)
    if isinstance(body, dict) and _keyed_by_kpi(body, asked):
        note("quantive: %s answers an object keyed by KPI id", endpoint)
        found: Records = ([], [], [])
        for kpi_id, snaps in body.items():
            _take(found, snaps, str(kpi_id), {}, endpoint)
        return found
    raise unread(
        "expected snapshot lists keyed by the KPI ids asked for, or a list of snapshot records",
        body,
        endpoint,
    )


def _keyed_by_kpi(body: dict[Any, Any], asked: Sequence[str] | None) -> bool:
    if asked is None:
        return all(isinstance(value, list) for value in body.values())
    return set(map(str, body)) <= set(asked)


def kpi_parts(body: Any, endpoint: str) -> dict[str, Records]:
    """An account-wide answer's records, split by the KPI each belongs to."""
    parts: dict[str, Records] = {}
    for record, kpi, own in zip(*read_body(body, None, endpoint), strict=True):
        records, kpis, fields = parts.setdefault(kpi, ([], [], []))
        records.append(record)
        kpis.append(kpi)
        fields.append(own)
    return parts


def _read_items(items: list[Any], asked: Sequence[str], endpoint: str) -> Records:
    """Items that hold a KPI's list of records, or flat records naming their KPI; a flat
    record without `kpiId` belongs to the one KPI asked for, if only one was."""
    found: Records = ([], [], [])
    records, kpis, fields = found
    for item in items:
        if not isinstance(item, dict):
            raise unread("expected snapshot items to be objects", item, endpoint)
        kpi_id = item.get("kpiId", asked[0] if len(asked) == 1 else None)
        if not isinstance(kpi_id, str | int) or kpi_id == "":
            raise unread("expected each snapshot item to name its kpiId", item, endpoint)
        key = next((k for k in GROUPED if isinstance(item.get(k), list)), None)
        if key is not None:
            note("quantive: %s lists each KPI's %s", endpoint, key)
            own = {k: v for k, v in item.items() if k not in ("kpiId", key)}
            _take(found, item[key], str(kpi_id), own, endpoint)
        else:
            note("quantive: %s lists flat snapshot records", endpoint)
            records.append(item)
            kpis.append(str(kpi_id))
            fields.append({})
    return found


def _take(found: Records, snaps: Any, kpi_id: str, own: dict[str, Any], endpoint: str) -> None:
    """One KPI's records, each with `own`, the fields of the item that grouped them."""
    if not isinstance(snaps, list):
        raise unread(f"expected a list of snapshot records for KPI {kpi_id}", snaps, endpoint)
    records, kpis, fields = found
    records.extend(snaps)  # each an object: checked by `_table` only when one is not
    kpis.extend([kpi_id] * len(snaps))
    fields.extend([own] * len(snaps))


def records_table(
    found: Records,
    what: str,
    *,
    group_by: str,
    time_zone: str,
    tz: pendulum.FixedTimezone,
    last: date,
    endpoint: str,
) -> pa.Table | None:
    """The rows of records already read (`read_body`, or one KPI's of `kpi_parts`) whose
    groups start by `last` (the client asks one day more, for servers whose `to` is
    exclusive); None when there are none. Raises when a record cannot be read or a row
    would go missing."""
    records, kpis, fields = found
    tally = Tally(what, source=SOURCE, endpoint=endpoint)
    tally.received(len(records))
    if not records:
        return None
    table = _with_item_fields(_table(records, group_by, time_zone, endpoint), fields)
    table = table.add_column(0, pa.field("kpi_id", pa.string(), nullable=False), [kpis])
    table = _numeric_value(_with_groups(table, records, group_by, tz, endpoint), endpoint)
    tally.emitted(table.num_rows)
    tally.settle()
    _one_record_per_group(table, tally.what, endpoint)
    within = pc.less_equal(table[CURSOR], pa.scalar(last, pa.date32()))
    return table if pc.all(within).as_py() else table.filter(within)


def _table(records: list[Any], group_by: str, time_zone: str, endpoint: str) -> pa.Table:
    """The records as columns; a record that is not an object fails the batch (looked
    for only then, so the bulk path has no extra pass over the rows)."""
    try:
        return records_to_table(
            records,
            constants={"group_by": group_by, "time_zone": time_zone},
            types=SNAPSHOT_TYPES,
            required=("group",),
            reserved=ADDED,
        )
    except AttributeError:
        bad = next((record for record in records if not isinstance(record, dict)), None)
        if bad is None:
            raise
        raise unread("expected snapshot records to be objects", bad, endpoint) from None


def _with_item_fields(table: pa.Table, fields: list[dict[str, Any]]) -> pa.Table:
    """The grouping items' own fields (`unit` of `{kpiId, unit, snapshots}`) as columns
    of their records' rows, named apart from the records' fields and the source's own."""
    if not any(fields):
        return table
    reserved = [*ADDED, *RECORD_FIELDS, *table.column_names]
    extra = records_to_table(fields, reserved=reserved)
    for name in extra.column_names:
        table = table.append_column(name, extra[name])
    return table


def _one_record_per_group(table: pa.Table, what: str, endpoint: str) -> None:
    """Two records for one KPI and group (`2026-05-04` and `2026-05-05T10:00Z` in one
    week) would be two rows of one key, which the merge inserts both of and a week's
    total counts twice: the batch fails naming the pair rather than pick one. Checked
    in Arrow; the Python pass that names the pair runs only when there is one."""
    keys = ["kpi_id", CURSOR]
    if table.select(keys).group_by(keys).aggregate([]).num_rows == table.num_rows:
        return
    guard = RepeatGuard(
        what,
        source=SOURCE,
        endpoint=endpoint,
        hint="the vendor sent two snapshot records for one KPI and group; report it",
    )
    starts = [day.isoformat() for day in table[CURSOR].to_pylist()]
    guard.seen("(KPI, group start)", zip(table["kpi_id"].to_pylist(), starts, strict=True))


def _with_groups(
    table: pa.Table,
    records: list[dict[str, Any]],
    group_by: str,
    tz: pendulum.FixedTimezone,
    endpoint: str,
) -> pa.Table:
    """`snapshot_date` (the group's first day) from each record's `group` or `date`, and
    a `group` label (the doc's form) for records that only gave a date."""
    labels, dates = _text(table, "group"), _text(table, "date")
    starts = pc.coalesce(
        periods.group_starts(labels, group_by, tz, endpoint),
        periods.group_starts(dates, group_by, tz, endpoint),
    )
    if starts.null_count:
        missing = pc.index(pc.is_null(starts), True).as_py()
        raise unread(
            "expected each snapshot record to have a group or a date", records[missing], endpoint
        )
    if labels.null_count:
        note("quantive: %s names snapshot days by date", endpoint)
        labels = pc.coalesce(labels, periods.group_labels(starts, group_by))
        field = pa.field("group", pa.string(), nullable=False)
        if "group" in table.column_names:
            table = table.set_column(table.column_names.index("group"), field, labels)
        else:
            table = table.add_column(1, field, labels)
    return table.append_column(pa.field(CURSOR, pa.date32(), nullable=False), starts)


def _text(table: pa.Table, name: str) -> pa.Array:
    """A column as text (all null when the records have no such field)."""
    if name not in table.column_names:
        return pa.nulls(table.num_rows, pa.string())
    return pc.cast(table[name].combine_chunks(), pa.string())


def _numeric_value(table: pa.Table, endpoint: str) -> pa.Table:
    """`value` as a double: numbers and numeric strings (`"12.5"`) go there, any other
    text (`"1000 pts"`) to dlt's variant column `value__v_text`, row by row."""
    if "value" not in table.column_names:
        return table
    index = table.column_names.index("value")
    value = table["value"]
    double = pa.field("value", pa.float64())
    if pa.types.is_integer(value.type):
        return table.set_column(index, double, pc.cast(value, pa.float64()))
    if not pa.types.is_string(value.type):
        return table
    numeric = pc.match_substring_regex(value, _NUMBER)
    as_number = pc.cast(pc.if_else(numeric, value, None), pa.float64())
    table = table.set_column(index, double, as_number)
    text = pc.if_else(numeric, None, value)
    note("quantive: %s sends snapshot values as text", endpoint)
    if text.null_count < len(text):
        table = table.append_column(pa.field("value__v_text", pa.string()), text)
    return table
