"""Column names that cannot clash.

dlt snake_cases every name, so vendor fields `kpiId` and `kpi_id`, or CSV headers `Count`
and `count`, land on one column, and a vendor field named like a column the source adds
(`kpi_id`, `_widget_id`) would overwrite it or fail the load with dlt's
`NameNormalizationCollision`. `column_names` gives each vendor column its snake_case name
and, where that is taken, keeps its data under `<name>__vendor` (then `__vendor_2`, …):
nothing is overwritten, nothing crashes, and the source's own columns keep their names."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from dlt.common.normalizers.naming.snake_case import NamingConvention

_naming = NamingConvention()
CLASH_SUFFIX = "__vendor"


def normalized(name: str) -> str:
    return _naming.normalize_identifier(str(name))


def normalized_table(name: str) -> str:
    """dlt's snake_case table name, as the destination will have it."""
    return _naming.normalize_table_identifier(str(name))


def column_names(vendor: Sequence[str], reserved: Collection[str] = ()) -> list[str]:
    """One distinct, already-normalised name per vendor column, none in `reserved`."""
    taken = {normalized(r) for r in reserved}
    names: list[str] = []
    for name in vendor:
        base = normalized(name)
        candidate, n = base, 1
        while candidate in taken:
            candidate = f"{base}{CLASH_SUFFIX}" + (f"_{n}" if n > 1 else "")
            n += 1
        taken.add(candidate)
        names.append(candidate)
    return names


def with_fields(record: Mapping[str, Any], added: Mapping[str, Any]) -> dict[str, Any]:
    """A vendor record (a dict row) with the source's own fields `added`; vendor keys
    that would land on the same column as another key or an added field are renamed as
    in `column_names`, so neither overwrites the other."""
    keys = list(record)
    names = column_names(keys, reserved=added)
    row = dict(added)
    row.update(zip(names, record.values(), strict=True))
    return row
