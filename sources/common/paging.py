"""Offset paging where the first page tells the total: `skip`/`take`, `offset`/`limit`.

The first page is fetched alone; it says how many items there are and how many the
server really returns per page (a server may cap `take` below what was asked). The
remaining pages are then requested together, at most `concurrency` at a time, and each
is handed on as soon as it arrives, so N pages take about as long as N / concurrency
round trips and only `concurrency` pages are ever held in memory.

A page inside the total that comes back empty means the list shrank while we paged; pages
whose items add up to other than the total, or that repeat items of another page (a
server that ignores `skip`), mean items were missed: each is a `MalformedResponse`
(rerun), never a silent gap (`sources/common/completeness.py`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from sources.common.completeness import RepeatGuard, Tally, fingerprint
from sources.common.errors import MalformedResponse


@dataclass(frozen=True)
class Page:
    skip: int
    items: list[Any]
    total: int


FetchPage = Callable[[int, int], Awaitable[Page]]
Identity = Callable[[list[Any]], Iterable[Hashable]]


def whole_page(items: list[Any]) -> Iterable[Hashable]:
    """The default identity: a page is known by its whole content."""
    return (fingerprint(items),)


async def pages_by_total(
    fetch: FetchPage,
    *,
    page_size: int,
    concurrency: int = 4,
    what: str = "list",
    source: str | None = None,
    endpoint: str | None = None,
    identity: Identity = whole_page,
    first: Page | None = None,
) -> AsyncIterator[Page]:
    """Yield every page of a list whose first page carries the total item count.

    `fetch(skip, take)` returns one `Page`. Pages after the first come in completion
    order, not in `skip` order. `identity(items)` names a page's items (their ids, say)
    so a page that repeats another is refused. `source` and `endpoint` name where a gap
    was found. After the last page, a count that differs from the total raises. `first`
    is the first page when the caller has already read it (to learn the list's form)."""
    src = source or "source"
    tally = Tally(what, source=src, endpoint=endpoint)
    guard = RepeatGuard(what, source=src, endpoint=endpoint)
    if first is None:
        first = await fetch(0, page_size)
    total, step = first.total, len(first.items)
    tally.declared(max(total, step))
    tally.received(step)
    guard.seen("skip 0", identity(first.items))
    yield first
    tally.emitted(step)
    if step >= total:
        tally.settle()
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
                page = task.result()
                tally.received(len(page.items))
                guard.seen(f"skip {page.skip}", identity(page.items))
                yield page
                tally.emitted(len(page.items))
            for skip in queue:
                pending.add(asyncio.ensure_future(one(skip)))
                if len(pending) >= window:
                    break
        tally.settle()
    finally:
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
