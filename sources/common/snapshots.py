"""Tables that hold one snapshot per part, replaced only by a part that loaded.

dlt's `replace` truncates a resource's tables whenever the resource yields nothing for
them, so a part that failed (exit 1) would leave its table empty until the next good
run. Instead every row carries its part's key and the table merges with delete-insert
on it: a load replaces exactly the parts it carries; a part that failed yields nothing
and keeps its last good snapshot; a part the vendor answered with no rows yields the one
marker row of `emptied`, which deletes its rows (dlt's `hard_delete`) and is itself
never stored, in the same transaction."""

from __future__ import annotations

from typing import Any

import dlt
import pyarrow as pa

EMPTY_MARK = "_empty_snapshot"  # set only on the row that empties a snapshot; never stored


def snapshot_hints(key: str, *, table: str | None = None, columns: Any = None) -> Any:
    """Hints of a snapshot table: each load replaces the rows of the keys it carries."""
    return dlt.mark.make_hints(
        table_name=table,
        write_disposition={"disposition": "merge", "strategy": "delete-insert"},
        merge_key=key,
        columns=columns,
    )


def emptied(key: str, value: Any, *, table: str) -> Any:
    """The item that replaces the snapshot of part `value` with nothing."""
    marker = pa.table({key: pa.array([value]), EMPTY_MARK: pa.array([True], pa.bool_())})
    hints = snapshot_hints(
        key, table=table, columns={EMPTY_MARK: {"data_type": "bool", "hard_delete": True}}
    )
    return dlt.mark.with_hints(marker, hints, create_table_variant=True)
