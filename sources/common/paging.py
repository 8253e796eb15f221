"""Offset paging where the first page tells the total: `skip`/`take`, `offset`/`limit`.

The first page is fetched alone; it says how many items there are and how many the
server really returns per page (a server may cap `take` below what was asked). The
remaining pages are then requested together, at most `concurrency` at a time, and each
is handed on as soon as it arrives, so N pages take about as long as N / concurrency
round trips and only `concurrency` pages are ever held in memory.

A page inside the total that comes back empty means the list shrank while we paged: that
is a `MalformedResponse` (rerun), never a silent gap."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sources.common.errors import MalformedResponse


@dataclass(frozen=True)
class Page:
    skip: int
    items: list[Any]
    total: int


FetchPage = Callable[[int, int], Awaitable[Page]]


async def pages_by_total(
    fetch: FetchPage,
    *,
    page_size: int,
    concurrency: int = 4,
    what: str = "list",
    source: str | None = None,
    endpoint: str | None = None,
) -> AsyncIterator[Page]:
    """Yield every page of a list whose first page carries the total item count.

    `fetch(skip, take)` returns one `Page`. Pages after the first come in completion
    order, not in `skip` order. `source` and `endpoint` name where a gap was found."""
    first = await fetch(0, page_size)
    yield first
    total, step = first.total, len(first.items)
    if step >= total:
        return
    if step == 0:
        raise MalformedResponse(
            f"{what}: first page is empty but the total is {total}",
            source=source,
            endpoint=endpoint,
        )
    step = min(step, page_size)
    skips = list(range(step, total, step))
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(skip: int) -> Page:
        async with gate:
            page = await fetch(skip, step)
        if not page.items:
            raise MalformedResponse(
                f"{what}: empty page at skip {skip} of {total}",
                source=source,
                endpoint=endpoint,
                hint="the list changed while paging; rerun",
            )
        return page

    # At most `concurrency` requests run, and we keep only a window of 2 x concurrency
    # tasks alive so a list of a million items does not create a million tasks at once.
    window = max(1, concurrency) * 2
    pending: set[asyncio.Task[Page]] = set()
    queue = iter(skips)
    try:
        for skip in queue:
            pending.add(asyncio.ensure_future(one(skip)))
            if len(pending) >= window:
                break
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                yield task.result()
            for skip in queue:
                pending.add(asyncio.ensure_future(one(skip)))
                if len(pending) >= window:
                    break
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
