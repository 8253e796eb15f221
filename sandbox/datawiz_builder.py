"""`DatawizSim`'s table builder, `POST /api/builder/create-table/`: a query validated,
its rows grouped by dimensions (a tree when asked), summed from the facts, spoken in
the `day_key`/`numbers`/`total_row` dialects and paged in the `paging` dialect."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from sandbox.datawiz_data import (
    CATEGORIES,
    DAY_NAMES,
    DEFAULT_PAGE_SIZE,
    DIMENSION_TITLES,
    HIERARCHY,
    MANAGERS,
    MAX_PAGE_SIZE,
    METRICS,
    SHOPS,
    Query,
    _column,
    _dimension_problem,
    _id,
    _invalid,
    _kept,
    _lookups,
)
from sandbox.server import Reply, Request


class BuilderAnswers:
    """Mixed into `DatawizSim` (which has the facts, the knobs and the hosts)."""

    def _builder(self, request: Request) -> Reply:
        body = request.json()  # a dictionary: `refuse` saw to it
        query = self._parse(body)
        if isinstance(query, Reply):
            return query
        try:
            lo, size = self._page_position(request)
        except ValueError:
            return Reply.json({"detail": "Invalid page."}, 404)
        lo = 0 if self.stuck_paging else lo
        caching = self.cache_pages and not self.corrections and self.plain()
        body_key = json.dumps(body, sort_keys=True)
        counted = self._rows_cache.get(body_key) if caching else None
        if counted is None:  # counting walks the whole data set: cached for benchmarks
            counted = self._rows(query, body.get("render_options") or {}, spoken=True)
            if caching:
                self._rows_cache[body_key] = counted
        count, row_at = counted
        if lo < 0 or (lo >= count and lo > 0):
            return Reply.json({"detail": "Invalid page."}, 404)
        key = (body_key, lo, size)
        cached = self._page_cache.get(key) if caching else None
        if cached is None:
            rows = self._odd([row_at(i) for i in range(lo, min(count, lo + size))])
            cached = json.dumps(rows, separators=(",", ":")).encode()
            if caching:
                self._page_cache[key] = cached
        head: dict[str, Any] = (
            {} if self.paging in ("page_no_count", "cursor") else {"count": count}
        )
        base = f"{getattr(self, self.builder_host).base_url}{request.path}"
        head["next"] = self._link(base, lo + size, size, count)
        head["previous"] = self._link(base, lo - size, size, count) if lo else None
        head_bytes = json.dumps(head, separators=(",", ":")).encode()
        columns = json.dumps(self._columns(query), separators=(",", ":")).encode()
        results = b'{"dataSource":' + cached + b',"columns":' + columns + b"}"
        return Reply(200, head_bytes[:-1] + b',"results":' + results + b"}")

    def _page_position(self, request: Request) -> tuple[int, int]:
        """(first row, page size) of a builder request in the `paging` dialect."""
        if self.paging == "limit_offset":  # DRF LimitOffsetPagination: `page_size` unknown
            size = int(request.arg("limit", DEFAULT_PAGE_SIZE))
            return int(request.arg("offset", "0")), min(MAX_PAGE_SIZE, max(1, size))
        size = min(MAX_PAGE_SIZE, max(1, int(request.arg("page_size", DEFAULT_PAGE_SIZE))))
        if self.paging == "cursor":  # an opaque cursor: the offset, hex, behind a prefix
            cursor = request.arg("cursor")
            return (int(cursor.removeprefix("cD0"), 16) if cursor else 0), size
        page = int(request.arg("page", "1"))
        if page < 1:
            raise ValueError(page)
        return (page - 1) * size, size

    def _link(self, base: str, lo: int, size: int, count: int) -> str | None:
        if lo < 0 or lo >= count:
            return None
        if self.paging == "limit_offset":
            return f"{base}?limit={size}&offset={lo}"
        if self.paging == "cursor":
            return f"{base}?cursor=cD0{lo:x}&page_size={size}"
        return f"{base}?page={lo // size + 1}&page_size={size}"

    def _odd(self, rows: list[Any]) -> list[Any]:
        """The `odd_row` knob: the middle row of `rows` (3 or more) made odd."""
        if self.odd_row is None or len(rows) < 3:
            return rows
        middle = len(rows) // 2
        row = rows[middle]
        rows[middle] = {
            "null": None,
            "list": list(row.values()),
            "sparse": {**row, "promo_note": "late"},
            "children": {**row, "children": [{**row, "key": f"{row['key']}&product=1"}]},
        }[self.odd_row]
        with self._lock:
            self.odd_rows += 1
        return rows

    def _parse(self, body: dict[str, Any]) -> Query | Reply:
        metrics = []
        for item in body.get("aggregate") or []:
            key = item.get("metric") if isinstance(item, dict) else None
            if key not in METRICS:
                return _invalid("aggregate", f"Unknown metric '{key}'.")
            metrics.append(key)
        dims, fields, lookups = [], {}, {}
        for item in body.get("group_by") or []:
            dim = item.get("dimension") if isinstance(item, dict) else None
            problem = _dimension_problem(dim)
            if problem:
                return _invalid("group_by", problem)
            if item.get("on", "row") != "row":
                return _invalid("group_by", "This sandbox only renders dimensions on rows.")
            dims.append(dim)
            fields[dim] = list(item.get("display_fields") or ["name"])
            lookups[dim] = _lookups(item.get("lookups"))
        for item in body.get("filters") or []:
            dim = item.get("dimension") if isinstance(item, dict) else None
            problem = _dimension_problem(dim)
            if problem:
                return _invalid("filters", problem)
            merged = lookups.setdefault(dim, {})
            for kind, ids in _lookups(item.get("lookups")).items():
                merged[kind] = merged.get(kind, set()) | ids
        if len(set(dims)) != len(dims):
            return _invalid("group_by", "A dimension can be grouped once.")
        days = self._date_range(body.get("date_range") or {"selected": "last_7_days"})
        if isinstance(days, Reply):
            return days
        if "day_month_year" in lookups:
            keep = lookups["day_month_year"]
            days = tuple(d for d in days if _kept(d.isoformat(), keep))
        options = body.get("options") or {}
        return Query(
            tuple(dims), fields, lookups, tuple(metrics), days, bool(options.get("expand_tree"))
        )

    def _date_range(self, spec: dict[str, Any]) -> tuple[date, ...] | Reply:
        selected = spec.get("selected")
        end = self.last_day
        if selected == "date":
            try:
                lo = date.fromisoformat(spec["date_from"])
                hi = date.fromisoformat(spec["date_to"])
            except (KeyError, TypeError, ValueError):
                return _invalid("date_range", "date_from and date_to must be YYYY-MM-DD.")
        elif selected in ("last_7_days", "last_30_days", "last_90_days"):
            hi, lo = end, end - timedelta(days=int(selected.split("_")[1]) - 1)
        elif selected == "all_time":
            lo, hi = self.first_day, end
        else:
            return _invalid("date_range", f"Unsupported selected key '{selected}'.")
        lo, hi = max(lo, self.first_day), min(hi, end)
        return tuple(lo + timedelta(days=i) for i in range((hi - lo).days + 1))

    # the rows of a query: independent axes (days, shops, product hierarchy) in group order

    def _members(self, query: Query, fixed: dict[str, Any]) -> dict[str, list[Any]]:
        """Ids of each dimension's members that pass the lookups and `fixed` values."""
        lk = query.lookups
        day = fixed.get("day_month_year")
        days = [day] if day is not None and day in query.days else [] if day else list(query.days)
        shops = [s for s in SHOPS if _kept(s, lk.get("shop")) and fixed.get("shop", s) == s]
        if "product" in fixed:
            candidates: list[int] = [fixed["product"]]
        elif "category" in fixed:
            candidates = self._by_category[fixed["category"]]
        elif "categorical_manager" in fixed:
            candidates = self._by_manager[fixed["categorical_manager"]]
        else:
            candidates = list(self.products)
        products = []
        for pid in candidates:
            values = self._hierarchy(pid)
            if all(_kept(values[d], lk.get(d)) for d in HIERARCHY) and all(
                fixed.get(d, values[d]) == values[d] for d in HIERARCHY
            ):
                products.append(pid)
        return {"day_month_year": days, "shop": shops, "product": products}

    def _axes(self, dims: tuple[str, ...], members: dict[str, list[Any]]) -> list[list[dict]]:
        axes: list[list[dict[str, Any]]] = []
        seen: set[str] = set()
        for dim in dims:
            if dim in HIERARCHY:
                if "hierarchy" in seen:
                    continue
                seen.add("hierarchy")
                grouped = [d for d in dims if d in HIERARCHY]
                tuples = dict.fromkeys(
                    tuple(self._hierarchy(pid)[d] for d in grouped) for pid in members["product"]
                )
                axes.append([dict(zip(grouped, t, strict=True)) for t in tuples])
            else:
                axes.append([{dim: v} for v in members[dim]])
        return axes

    def _hierarchy(self, pid: int) -> dict[str, int]:
        cat = self.products[pid][1]
        return {"product": pid, "category": cat, "categorical_manager": CATEGORIES[cat][1]}

    def _rows(
        self, query: Query, render: dict[str, Any], *, spoken: bool = False
    ) -> tuple[int, Callable[[int], dict]]:
        """(number of root rows, the row at an index); `spoken`: in the current dialect
        (an HTTP answer), else in the default one (the ground truth tests compare with)."""
        level_dims = query.dims[:1] if query.tree else query.dims
        members = self._members(query, {})
        axes = self._axes(level_dims, members)
        count = 1
        for axis in axes:
            count *= len(axis)
        if not axes:
            count = 1 if members["day_month_year"] else 0
        total = spoken and self.total_row == "last" and count > 0

        def row_at(index: int) -> dict[str, Any]:
            if index == count:
                return self._total(query, members)
            fixed: dict[str, Any] = {}
            for axis in reversed(axes):
                index, position = divmod(index, len(axis))
                fixed.update(axis[position])
            row = self._render(query, fixed, level_dims, render, level=1)
            return self._spoken(row, query) if spoken else row

        return count + total, row_at

    def _total(self, query: Query, members: dict[str, list[Any]]) -> dict[str, Any]:
        """The grand total row: every metric over the whole query, no dimension fields."""
        sums = self._sum(members)
        row: dict[str, Any] = {m: METRICS[m][1](sums) for m in query.metrics}
        row.update({"key": "total", "level": 1, "is_root": True})
        return self._spoken(row, query)

    def _spoken(self, row: dict[str, Any], query: Query) -> dict[str, Any]:
        """A rendered row (and its children) in the current dialect: the day's spelling in
        its key and name, numbers as strings."""
        day = "day_month_year"
        if (self.day_key != "iso" or self.unknown_shape) and f"{day}=" in row.get("key", ""):
            parts = dict(p.split("=", 1) for p in row["key"].split("&") if "=" in p)
            when = date.fromisoformat(parts[day])
            if self.day_key == "none" and not self.unknown_shape:
                del parts[day]
            if day in parts:
                parts[day] = (
                    f"d{when.toordinal() * 7:x}" if self.unknown_shape else str(when.toordinal())
                )
            row["key"] = "&".join(f"{k}={v}" for k, v in parts.items())
            if self.unknown_shape:
                name = f"day {when.toordinal() % 97}"
            else:
                name = when.strftime(DAY_NAMES[self.day_key])
            for field_name, value in row.items():  # the name and its clone_data copies
                if field_name != "key" and value == when.isoformat():
                    row[field_name] = name
        if self.numbers == "string":
            for metric in query.metrics:
                if row.get(metric) is not None:
                    row[metric] = str(row[metric])
        for child in row.get("children") or []:
            self._spoken(child, query)
        return row

    def _render(
        self,
        query: Query,
        fixed: dict[str, Any],
        level_dims: tuple[str, ...],
        render: dict[str, Any],
        level: int,
    ) -> dict[str, Any]:
        members = self._members(query, fixed)
        sums = self._sum(members)
        row: dict[str, Any] = {}
        for dim in level_dims:
            for name in query.fields[dim]:
                row[f"{dim}__{name}"] = self._display(dim, fixed[dim], name)
        for metric in query.metrics:
            row[metric] = METRICS[metric][1](sums)
        key_start = str(render.get("key_start") or "")
        parts = [f"{dim}={_id(fixed[dim])}" for dim in level_dims]
        if parts and key_start.endswith(f"{level_dims[0]}=") and level == 1:
            row["key"] = key_start + parts[0].split("=", 1)[1] + "".join(f"&{p}" for p in parts[1:])
        else:
            row["key"] = "&".join(parts)
        if level == 1:
            row.update(render.get("additional_data") or {"level": 1, "is_root": True})
        else:
            row.update({"level": level, "is_root": False})
        if query.tree:
            deeper = query.dims[: len(level_dims) + 1]
            has_children = len(deeper) > len(level_dims)
            row[f"{level_dims[-1]}__has_children"] = has_children
            row["children"] = []
            if has_children:
                child_members = self._members(query, fixed)
                for axis_row in itertools.product(*self._axes(deeper[-1:], child_members)):
                    child_fixed = dict(fixed)
                    for part in axis_row:
                        child_fixed.update(part)
                    row["children"].append(
                        self._render(query, child_fixed, deeper, {}, level=level + 1)
                    )
        for target, source in (render.get("clone_data") or {}).items():
            if source in row:
                row[target] = row[source]
        return row

    def _sum(self, members: dict[str, list[Any]]) -> list[int]:
        sums = [0, 0, 0, 0, 0, 0]
        for day in members["day_month_year"]:
            for shop in members["shop"]:
                for product in members["product"]:
                    for i, value in enumerate(self.fact(day, shop, product)):
                        sums[i] += value
        return sums

    def _display(self, dim: str, value: Any, name: str) -> Any:
        if name == "id":
            return _id(value)
        if dim == "day_month_year":
            return value.isoformat()
        if dim == "shop":
            return SHOPS[value]
        if dim == "categorical_manager":
            return MANAGERS[value]
        if dim == "category":
            return CATEGORIES[value][0]
        return self.products[value][0]

    def _columns(self, query: Query) -> list[dict[str, Any]]:
        columns = []
        for dim in query.dims:
            for name in query.fields[dim]:
                dtype = "date" if dim == "day_month_year" and name == "name" else "string"
                title = f"{DIMENSION_TITLES[dim]} {'Id' if name == 'id' else 'Name'}"
                columns.append(_column(f"{dim}__{name}", title, dtype))
        columns += [_column(m, METRICS[m][0], "number") for m in query.metrics]
        return columns
