"""Pages of Datawiz rows → typed Arrow tables, and the `columns` metadata → dlt hints.

Types come from the answer's `columns` (`dtype` number/string/date/…), so every page
of a table gets the same Arrow schema; fields the metadata does not describe (`key`,
`level`, `is_root`, clone_data copies) are typed from their first value. Rows are
converted in one C++ pass (`pa.array` of a struct), not cell by cell. Tree answers
(`expand_tree`) are flattened depth first: every row keeps its `level` and gains its
parent's `key` as `parent_key`. Column names are dlt's snake_case of `dataIndex`; a
vendor field named like a column the source adds (`date`, `parent_key`, …) keeps its
data under `<name>__vendor` (sources/common/names.py).

Where the doc is silent the reader takes every plausible form and logs the one it saw:
numbers may come as strings (`"12.5"`, cast back to the column's type; a value that is
no number makes a dlt variant column); a day is spelled `2026-11-30`, `30.11.2026`,
`30/11/2026` or `11/30/2026` (`read_days`: D/M against M/D is decided by the chunk's
requested days, and refused when still ambiguous); a row's day is the ISO date in its
key's `day_month_year=` part, or, when the key carries an id there, its day field
(`day_of_rows`), or, when the key names no day at all (`shop=1`), the day field alone. A
row with no day in its key and none in its fields is a total row: one per answer at most.

A flat reader (`tree=False`: report widgets, builder tables without `expand_tree`) refuses
rows with `children` rather than drop them; fields are learned from every row (a field
only middle rows carry is kept, not dropped by the struct conversion)."""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import date
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from sources.common.arrow import arrow_type, conform
from sources.common.completeness import unreadable
from sources.common.names import column_names

log = logging.getLogger("sources.datawiz")
DTYPES: dict[str, str] = {  # vendor dtype: dlt data_type (Arrow type: dlt's, `arrow_type`)
    "number": "double",
    "float": "double",
    "integer": "bigint",
    "int": "bigint",
    "string": "text",
    "text": "text",
    "date": "date",
    "datetime": "timestamp",
    "boolean": "bool",
    "bool": "bool",
}
_PY_TYPES: dict[type, pa.DataType] = {
    bool: pa.bool_(),
    int: pa.int64(),
    float: pa.float64(),
    str: pa.string(),
}
SKIP = frozenset({"children"})
PARENT = "\x00parent_key"  # flatten's parent key, named `parent_key` after the vendor's names
DAY_PREFIX = "day_month_year="
_DAY_PART = r"(?:^|&)day_month_year=(?P<day>[^&]*)"
_ISO_DAY = r"^\d{4}-\d{2}-\d{2}"
DAY_FORMATS = {  # spellings of a day, by the name the logs give them
    "YYYY-MM-DD": "%Y-%m-%d",
    "DD.MM.YYYY": "%d.%m.%Y",
    "DD/MM/YYYY": "%d/%m/%Y",
    "MM/DD/YYYY": "%m/%d/%Y",
    "YYYY/MM/DD": "%Y/%m/%d",
}
# where a row spells its day when its key carries an id (names after renaming)
DAY_FIELDS = ("day_month_year_name", "day_month_year_date", "day_month_year", "date__vendor")
Span = tuple[date, date]  # the first and last day a chunk asked for


class Unreadable(ValueError):
    """Rows whose day (or key) cannot be read; the caller fails the part with a sample."""


def flatten(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with `children` flattened depth first; each gets `parent_key` and `level`."""
    if not any(row.get("children") for row in rows):
        return rows
    out: list[dict[str, Any]] = []

    def walk(row: dict[str, Any], parent: str | None, level: int) -> None:
        children = row.get("children") or []
        flat = {k: v for k, v in row.items() if k != "children"}
        flat[PARENT] = parent
        flat.setdefault("level", level)
        out.append(flat)
        for child in children:
            walk(child, row.get("key"), level + 1)

    for row in rows:
        walk(row, None, 1)
    return out


class Framer:
    """Converts the pages of one table; remembers the schema so pages agree, and the forms
    the vendor spoke (logged once each). `added`: the columns the source adds itself."""

    def __init__(
        self, *, tree: bool, name: str = "", added: Collection[str] = (), endpoint: str = ""
    ) -> None:
        self.tree = tree
        self.name = name
        self.endpoint = endpoint
        self.added = (*added, "parent_key") if tree else tuple(added)
        self._fields: dict[str, pa.DataType] = {}
        self._dates: set[str] = set()
        self._described: dict[str, dict[str, Any]] = {}
        self._noted: set[tuple[str, str]] = set()

    def table(
        self, rows: list[dict[str, Any]], columns: list[dict[str, Any]], span: Span | None = None
    ) -> pa.Table:
        """One page as a table; `span` (the days asked for) settles D/M against M/D."""
        self._learn(columns)
        if self.tree:
            rows = flatten(rows)
        # every row's fields (one may appear in middle rows only): a C-level union, 0.7 ms
        # for 10k rows where records.record_keys takes 2 ms
        keys = set().union(*rows)
        if not self.tree and "children" in keys:
            nested = next((row for row in rows if row.get("children")), None)
            if nested is not None:  # a treemap's levels: never dropped by a flat reader
                raise unreadable(
                    "a row with children in a flat answer",
                    nested,
                    source="datawiz",
                    endpoint=self.endpoint,
                )
        self._learn_extras(rows, keys)
        struct = pa.struct(
            [pa.field(n, pa.string() if n in self._dates else t) for n, t in self._fields.items()]
        )
        try:
            array = pa.array(rows, type=struct)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            array = self._slow(rows, struct)
        table = pa.Table.from_struct_array(array)
        for name in self._dates:
            try:
                days, form = read_days(table.column(name).combine_chunks(), span)
            except Unreadable:
                continue  # stays text: `conform` makes it a variant of the date column
            self.note(name, form)
            table = table.set_column(table.schema.get_field_index(name), name, days)
        names = self._names()
        table = table.rename_columns([names[n] for n in table.column_names])
        if self.tree and "parent_key" not in table.column_names:
            table = table.append_column("parent_key", pa.nulls(table.num_rows, pa.string()))
        return conform(table, self._known())

    def hints(self) -> list[dict[str, Any]]:
        """dlt column hints: data type and the vendor's title as description."""
        names = self._names()
        return [{**hint, "name": names[field]} for field, hint in self._described.items()]

    def note(self, what: str, form: str) -> None:
        """Log once per table which form the vendor used for an open detail."""
        if (what, form) not in self._noted:
            self._noted.add((what, form))
            log.info("datawiz: %s: %s read as %s", self.name, what, form)

    def _names(self) -> dict[str, str]:
        """Vendor field → column name: snake_case, distinct, never one the source adds."""
        vendor = [n for n in self._fields if n != PARENT]
        names = dict(zip(vendor, column_names(vendor, self.added), strict=True))
        names[PARENT] = "parent_key"
        return names

    def _known(self) -> dict[str, dict[str, Any]]:
        names = self._names()
        return {names[f]: {"data_type": h["data_type"]} for f, h in self._described.items()}

    def _learn(self, columns: list[dict[str, Any]]) -> None:
        for column in columns:
            if not isinstance(column, dict):
                continue
            name = column.get("dataIndex") or column.get("key")
            if not isinstance(name, str) or name in self._fields:
                continue
            dlt_type = DTYPES.get(str(column.get("dtype")).lower())
            if dlt_type is None:
                continue  # an unknown dtype: typed from its values like an extra field
            self._fields[name] = arrow_type({"data_type": dlt_type})
            if dlt_type == "date":
                self._dates.add(name)
            hint: dict[str, Any] = {"data_type": dlt_type}
            if column.get("title"):
                hint["description"] = str(column["title"])
            self._described[name] = hint

    def _learn_extras(self, rows: list[dict[str, Any]], keys: set[str]) -> None:
        pending = {k for k in keys if k not in self._fields and k not in SKIP}
        for row in rows:
            if not pending:
                break
            for name in list(pending):
                value = row.get(name)
                if value is not None:
                    self._fields[name] = _PY_TYPES.get(type(value), pa.string())
                    pending.discard(name)
        for name in pending:  # null in every row of this page
            self._fields[name] = pa.string()

    def _slow(self, rows: list[dict[str, Any]], struct: pa.StructType) -> pa.StructArray:
        """Column by column, for a page whose values do not fit the learned types: numbers
        sent as strings are cast back; a column that still does not fit stays text (JSON
        for nested values), which `conform` turns into a variant column."""
        fields, arrays = [], []
        for field in struct:
            values = [row.get(field.name) for row in rows]
            try:
                array = pa.array(values, type=field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
                text = pa.array(
                    [
                        None if v is None else v if isinstance(v, str) else orjson.dumps(v).decode()
                        for v in values
                    ],
                    type=pa.string(),
                )
                array = _numbers_in_text(text, field.type)
                if array is not None:
                    self.note(field.name, "numbers sent as strings")
                else:
                    array = text
            fields.append(pa.field(field.name, array.type))
            arrays.append(array)
        return pa.StructArray.from_arrays(arrays, fields=fields)


def _numbers_in_text(text: pa.Array, kind: pa.DataType) -> pa.Array | None:
    """Text that holds numbers of `kind` only (`"12.5"`), as `kind`; else None."""
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        return None
    try:
        return pc.cast(text, kind)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def read_days(values: pa.Array, span: Span | None) -> tuple[pa.Array, str]:
    """Days as dates, from whichever spelling fits every value (and, given the chunk's
    `span`, puts every day inside it); raises `Unreadable` when none does, or when two
    spellings fit with different days (03/04/2026 with no way to tell D/M from M/D)."""
    if pa.types.is_date32(values.type):
        return values, "date"
    if not pa.types.is_string(values.type):
        raise Unreadable(f"day values of type {values.type}")
    iso = _parse_days(pc.utf8_slice_codeunits(values, 0, 10), DAY_FORMATS["YYYY-MM-DD"])
    # no other spelling reads an ISO date: the common case needs one parse
    if iso.null_count == values.null_count and (span is None or _within(iso, span)):
        return iso, "YYYY-MM-DD"
    readings: dict[str, pa.Array] = {}
    for form, pattern in DAY_FORMATS.items():
        text = pc.utf8_slice_codeunits(values, 0, 10) if form == "YYYY-MM-DD" else values
        days = _parse_days(text, pattern)
        if days.null_count == values.null_count and (span is None or _within(days, span)):
            readings[form] = days
    if not readings:
        raise Unreadable(f"no day spelling fits ({', '.join(DAY_FORMATS)} tried)")
    (form, days), *others = readings.items()
    clash = [other for other, read in others if not read.equals(days)]
    if clash:
        raise Unreadable(f"days read differently as {form} and {', '.join(clash)}")
    return days, form


def _parse_days(text: pa.Array, pattern: str) -> pa.Array:
    return pc.cast(pc.strptime(text, format=pattern, unit="s", error_is_null=True), pa.date32())


def _within(days: pa.Array, span: Span) -> bool:
    first, last = (pa.scalar(d, pa.date32()) for d in span)
    inside = pc.and_(pc.greater_equal(days, first), pc.less_equal(days, last))
    return pc.all(inside).as_py() is not False


def day_of_rows(table: pa.Table, span: Span | None) -> tuple[pa.Array, pa.Array, str]:
    """(each row's day, which rows are totals, where the day was read).

    The day leads the key (`day_month_year=2026-11-30&shop=1`) when it is an ISO date;
    when the key carries an id there (`day_month_year=739585`), or no day at all
    (`shop=1`), the day comes from the row's day field. A total row (`fixed_total`,
    `with_row_total`) has no day in its key and none in its fields: recognised by both,
    never guessed from a day that did not parse."""
    if "key" not in table.column_names:
        raise Unreadable("rows without a key")
    keys = table.column("key").combine_chunks()
    if not pa.types.is_string(keys.type) or keys.null_count:
        raise Unreadable("rows whose key is missing or not text")
    if pc.all(pc.starts_with(keys, DAY_PREFIX)).as_py():  # the date leads: slice, no regex
        days = pc.utf8_slice_codeunits(keys, len(DAY_PREFIX), len(DAY_PREFIX) + 10)
        if pc.all(pc.match_substring_regex(days, _ISO_DAY + "$")).as_py():
            return pc.cast(days, pa.date32()), pa.repeat(False, len(keys)), "the key"
    parts = pc.struct_field(pc.extract_regex(keys, _DAY_PART), [0])
    in_key = pc.is_valid(parts)
    if pc.all(pc.match_substring_regex(parts, _ISO_DAY + "$")).as_py() is not False:
        key_days, where = pc.cast(parts, pa.date32()), "the key"
        if key_days.null_count == 0:
            return key_days, pa.repeat(False, len(keys)), where
    else:  # the key carries an id: the day is in a field
        key_days, where = pa.nulls(len(keys), pa.date32()), "the key carries an id"
    field_days = pa.nulls(len(keys), pa.date32())
    found = _field_days(table, in_key, span)
    if found is not None:
        field_days, name, form = found
        where = f"{name} ({form}); {where if in_key.true_count else 'the key names no day'}"
    days = pc.coalesce(key_days, field_days)
    if pc.any(pc.and_(in_key, pc.is_null(days))).as_py():
        raise Unreadable(
            f"the key's day_month_year part is no date and no field of {DAY_FIELDS} is"
        )
    return days, pc.and_(pc.invert(in_key), pc.is_null(days)), where


def _field_days(table: pa.Table, in_key: pa.Array, span: Span | None) -> tuple | None:
    """(days, field, spelling) of the first day field that reads in every row; else of
    one that reads in the rows whose key names a day (a total row may spell "Total" there)."""
    columns = [(n, table.column(n).combine_chunks()) for n in DAY_FIELDS if n in table.column_names]
    tries = list(columns)
    if 0 < in_key.true_count < len(in_key):
        tries += [(n, pc.if_else(in_key, c, pa.scalar(None, c.type))) for n, c in columns]
    for name, values in tries:
        try:
            days, form = read_days(values, span)
        except Unreadable:
            continue
        return days, name, form
    return None


def first_day_row(table: pa.Table) -> dict[str, Any]:
    """The key and day fields of the first row whose key names a day, for an error line."""
    if not table.num_rows:
        return {}
    index = 0
    if "key" in table.column_names and pa.types.is_string(table.schema.field("key").type):
        found = pc.index(pc.match_substring(table.column("key"), DAY_PREFIX), True).as_py()
        index = max(found, 0)
    row = table.slice(index, 1).to_pylist()[0]
    day = {k: v for k, v in row.items() if k == "key" or k.startswith(("day_month_year", "date"))}
    return day or row


def with_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    index = table.schema.get_field_index(name)
    if index >= 0:
        return table.set_column(index, name, values)
    return table.append_column(name, values)
