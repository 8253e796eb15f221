"""Loading a Datawiz resource's windows: fetched concurrently, each spooled until all its
pages are in, then handed to dlt; a window that fails is recorded and holds the cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import dlt
import pyarrow as pa
import pyarrow.compute as pc

from sources.common.arrow import Spool, required
from sources.common.completeness import Tally, unreadable
from sources.common.jobs import fan_in
from sources.common.stats import record_part_failure
from sources.common.windows import Window
from sources.datawiz import client
from sources.datawiz.config import SOURCE, DatawizConfig
from sources.datawiz.frames import Framer, Span, Unreadable, day_of_rows, first_day_row, with_column

DATE = "date"
SNAPSHOT_KEY = "_snapshot_of"  # the table a snapshot row belongs to; delete-insert on it
# a page as the loader takes it: (rows to load, root rows read, total rows dropped)
Framed = tuple[pa.Table, int, pa.Table | None]


def snapshot_of(table: pa.Table, name: str) -> pa.Table:
    """Stamp a snapshot's rows with the table they replace (`sources.common.snapshots`):
    a failed run keeps the last good snapshot instead of emptying the table."""
    stamped = with_column(table, SNAPSHOT_KEY, pa.repeat(pa.scalar(name), table.num_rows))
    return required(stamped, (SNAPSHOT_KEY,))


def span_of(window: Window) -> Span:
    """The first and last day (inclusive) a window asks for."""
    return window.start.date(), window.end.subtract(days=1).date()


def root_rows(table: pa.Table, tree: bool) -> int:
    """Rows of the answer's top level: all of them, or a flattened tree's roots."""
    return table.column("parent_key").null_count if tree else table.num_rows


def dated(table: pa.Table, span: Span | None, framer: Framer) -> pa.Table:
    """(the rows with their day as `date`, the total rows dropped); total rows have no
    day in their key nor in a field; rows whose day cannot be read fail the chunk with a
    sample of one."""
    try:
        days, totals, form = day_of_rows(table, span)
    except Unreadable as exc:
        raise unreadable(
            f"cannot read the day of the rows ({exc})",
            first_day_row(table),
            source=SOURCE,
            endpoint=client.BUILDER_ENDPOINT,
        ) from None
    framer.note("the day of a row", form)
    dropped = table.filter(totals)
    if totals.true_count:
        framer.note("rows with no day in their key or fields", "total rows, not loaded")
        keep = pc.invert(totals)
        table, days = table.filter(keep), days.filter(keep)
    return required(with_column(table, DATE, days), (DATE, "key")), dropped


async def load_windows(
    name: str,
    config: DatawizConfig,
    windows: list[Window],
    request: Callable[[Any, Window], AsyncIterator[client.TablePage]],
    frame: Callable[[client.TablePage, Window], Framed],
    framer: Framer,
    done: list[Window],
    workers: int,
    empty: Callable[[], Any] | None = None,
) -> AsyncIterator[Any]:
    """Fetch the windows concurrently, spool each until complete, then hand it to dlt;
    a failed window is recorded and skipped. The first table carries the column hints.
    A snapshot window that loaded no rows yields `empty()`, which empties its table.
    Each window keeps a `Tally`: `count` announced, root rows received, root rows read
    plus total rows recognised; a window whose answer has more than one total row (rows
    with no day anywhere: a key form not understood) fails."""
    if not windows:
        return
    spools: dict[Any, Spool] = {}
    hinted = False
    async with client.session(config) as http:

        async def fetch(window: Window) -> AsyncIterator[pa.Table]:
            tally = Tally("the chunk", source=SOURCE)
            totals = 0
            async for page in request(http, window):
                if page.count is not None:
                    tally.declared(page.count)
                tally.received(len(page.rows))
                if page.rows:
                    table, roots, dropped = frame(page, window)
                    totals += dropped.num_rows if dropped is not None else 0
                    if totals > 1:
                        raise unreadable(
                            f"{totals} rows with no day in their key or day fields "
                            "(a total row comes once per answer)",
                            dropped.slice(0, 1).to_pylist()[0],
                            source=SOURCE,
                            endpoint=client.BUILDER_ENDPOINT,
                        )
                    tally.emitted(roots)
                    yield table
            tally.settle()

        try:
            async for outcome in fan_in(windows, fetch, concurrency=workers):
                window = outcome.spec
                if outcome.item is not None:
                    spools.setdefault(window.start, Spool()).write(outcome.item)
                    continue
                spool = spools.pop(window.start, None) or Spool()
                with spool:
                    if outcome.error is not None:
                        record_part_failure(SOURCE, outcome.error, name, what=days_of(window))
                        continue
                    done.append(window)
                    if empty is not None and spool.rows == 0:
                        yield empty()  # a snapshot the vendor answered with no rows
                    for table in spool.tables():
                        if not hinted:
                            hinted = True
                            hints = dlt.mark.make_hints(columns=framer.hints())
                            yield dlt.mark.with_hints(table, hints)
                        else:
                            yield table
        finally:
            for spool in spools.values():
                spool.close()


def days_of(window: Window) -> str:
    """The days a chunk covers, as a failure line names them."""
    first, last = span_of(window)
    return f"days {first}..{last}"
