"""Pages of Datawiz rows → typed Arrow tables, and the `columns` metadata → dlt hints.

Types come from the answer's `columns` (`dtype` number/string/date/…), so every page
of a table gets the same Arrow schema; fields the metadata does not describe (`key`,
`level`, `is_root`, clone_data copies) are typed from their first value. Rows are
converted in one C++ pass (`pa.array` of a struct), not cell by cell. Tree answers
(`expand_tree`) are flattened depth first: every row keeps its `level` and gains its
parent's `key` as `parent_key`. Column names are dlt's snake_case of `dataIndex`."""

from __future__ import annotations

from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.normalizers.naming.snake_case import NamingConvention

_naming = NamingConvention()
DTYPES: dict[str, tuple[pa.DataType, str]] = {  # vendor dtype: (Arrow type, dlt data_type)
    "number": (pa.float64(), "double"),
    "float": (pa.float64(), "double"),
    "integer": (pa.int64(), "bigint"),
    "int": (pa.int64(), "bigint"),
    "string": (pa.string(), "text"),
    "text": (pa.string(), "text"),
    "date": (pa.date32(), "date"),
    "datetime": (pa.timestamp("us", tz="UTC"), "timestamp"),
    "boolean": (pa.bool_(), "bool"),
    "bool": (pa.bool_(), "bool"),
}
_PY_TYPES: dict[type, pa.DataType] = {
    bool: pa.bool_(),
    int: pa.int64(),
    float: pa.float64(),
    str: pa.string(),
}
_DAY_IN_KEY = r"(?:^|&)day_month_year=(?P<day>\d{4}-\d{2}-\d{2})"
SKIP = frozenset({"children"})


def flatten(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with `children` flattened depth first; each gets `parent_key` and `level`."""
    if not any(row.get("children") for row in rows):
        return rows
    out: list[dict[str, Any]] = []

    def walk(row: dict[str, Any], parent: str | None, level: int) -> None:
        children = row.get("children") or []
        flat = {k: v for k, v in row.items() if k != "children"}
        flat["parent_key"] = parent
        flat.setdefault("level", level)
        out.append(flat)
        for child in children:
            walk(child, row.get("key"), level + 1)

    for row in rows:
        walk(row, None, 1)
    return out


class Framer:
    """Converts the pages of one table; remembers the schema so pages agree."""

    def __init__(self, *, tree: bool) -> None:
        self.tree = tree
        self._fields: dict[str, pa.DataType] = {}
        self._dates: set[str] = set()
        self._described: dict[str, dict[str, Any]] = {}

    def table(self, rows: list[dict[str, Any]], columns: list[dict[str, Any]]) -> pa.Table:
        self._learn(columns)
        if self.tree:
            rows = flatten(rows)
        self._learn_extras(rows)
        struct = pa.struct(
            [pa.field(n, pa.string() if n in self._dates else t) for n, t in self._fields.items()]
        )
        try:
            array = pa.array(rows, type=struct)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
            array = self._slow(rows, struct)
        table = pa.Table.from_struct_array(array)
        for name in self._dates:
            index = table.schema.get_field_index(name)
            table = table.set_column(index, name, _to_date(table.column(name)))
        if self.tree and "parent_key" not in table.column_names:
            table = table.append_column("parent_key", pa.nulls(table.num_rows, pa.string()))
        return table.rename_columns([_naming.normalize_identifier(n) for n in table.column_names])

    def hints(self) -> list[dict[str, Any]]:
        """dlt column hints: data type and the vendor's title as description."""
        return list(self._described.values())

    def _learn(self, columns: list[dict[str, Any]]) -> None:
        for column in columns:
            if not isinstance(column, dict):
                continue
            name = column.get("dataIndex") or column.get("key")
            if not isinstance(name, str) or name in self._fields:
                continue
            arrow_type, dlt_type = DTYPES.get(str(column.get("dtype")).lower(), (None, None))
            if arrow_type is None:
                continue  # an unknown dtype: typed from its values like an extra field
            self._fields[name] = arrow_type
            if dlt_type == "date":
                self._dates.add(name)
            hint: dict[str, Any] = {
                "name": _naming.normalize_identifier(name),
                "data_type": dlt_type,
            }
            if column.get("title"):
                hint["description"] = str(column["title"])
            self._described[name] = hint

    def _learn_extras(self, rows: list[dict[str, Any]]) -> None:
        # flat pages: every row has the first row's fields; a tree's deeper levels add
        # their own dimension's fields, so its (small) pages are scanned whole
        sample = rows if self.tree else rows[:1]
        pending = {k for row in sample for k in row if k not in self._fields and k not in SKIP}
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
        """Column by column, for a page whose values do not fit the learned types: a
        column that does not fit becomes text (JSON for nested values) from now on."""
        fields, arrays = [], []
        for field in struct:
            values = [row.get(field.name) for row in rows]
            try:
                array = pa.array(values, type=field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
                text = [
                    None if v is None else v if isinstance(v, str) else orjson.dumps(v).decode()
                    for v in values
                ]
                array = pa.array(text, type=pa.string())
                self._fields[field.name] = pa.string()
            fields.append(pa.field(field.name, array.type))
            arrays.append(array)
        return pa.StructArray.from_arrays(arrays, fields=fields)


def _to_date(column: pa.ChunkedArray) -> pa.ChunkedArray:
    try:
        return pc.cast(pc.utf8_slice_codeunits(column, 0, 10), pa.date32())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column


def day_of_keys(table: pa.Table) -> pa.Array:
    """The `day_month_year=` part of each row's `key` as a date (null where absent)."""
    keys = table.column("key").combine_chunks() if "key" in table.column_names else None
    if keys is None:
        return pa.nulls(table.num_rows, pa.date32())
    prefix = "day_month_year="
    if pc.all(pc.starts_with(keys, prefix)).as_py():  # the date leads: slice, no regex
        days = pc.utf8_slice_codeunits(keys, len(prefix), len(prefix) + 10)
        if pc.all(pc.match_substring_regex(days, r"^\d{4}-\d{2}-\d{2}$")).as_py():
            return pc.cast(days, pa.date32())
    days = pc.struct_field(pc.extract_regex(keys, _DAY_IN_KEY), [0])
    return pc.cast(days, pa.date32())


def with_column(table: pa.Table, name: str, values: pa.Array) -> pa.Table:
    index = table.schema.get_field_index(name)
    if index >= 0:
        return table.set_column(index, name, values)
    return table.append_column(name, values)
