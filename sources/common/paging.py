"""Paging, one class per scheme, shaped like dlt's REST paginators
(`dlt.sources.helpers.rest_client.paginators`) but async, concurrent where the scheme
allows, and never silently short:

- `OffsetPaginator`: `skip`/`take`, `offset`/`limit` or page numbers (dlt's
  OffsetPaginator with `total_path`, PageNumberPaginator). With a total on the first
  page, every other page is known in advance and fetched `concurrency` at a time, each
  handed on as it arrives; without one, page after page until an empty (or short) page.
- `CursorPaginator`: the next request names what the last answer gave, a cursor or a
  whole next link (dlt's JSONResponseCursorPaginator, JSONLinkPaginator,
  HeaderLinkPaginator): one page after another, as the scheme forces.

What counts as a loss, for every scheme (`sources/common/completeness.py`): a page that
repeats items of another (a server that ignores the paging parameter), a cursor or link
that comes again, an empty page inside the total, pages whose items add up to other than
the total, and (`probe_past_total`) rows past the total: each is a `MalformedResponse`
(rerun), never a gap."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Hashable, Iterable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sources.common.completeness import Incomplete, RepeatGuard, Tally, fingerprint
from sources.common.errors import MalformedResponse
from sources.common.jobs import fan_in

P = TypeVar("P", bound="Page")
Identity = Callable[[list[Any]], Iterable[Hashable]]


@dataclass(frozen=True)
class Page:
    """One offset page: where it starts, its items, and the list's total (None: not given)."""

    skip: int
    items: list[Any]
    total: int | None


def whole_page(items: list[Any]) -> Iterable[Hashable]:
    """The default identity: a page is known by its whole content."""
    return (fingerprint(items),)


class _Checked:
    """The guards every paginator keeps: a tally against the total, and repeats."""

    def __init__(self, what: str, source: str, endpoint: str | None, identity: Identity):
        self.what, self.source, self.endpoint, self.identity = what, source, endpoint, identity
        self.tally = Tally(what, source=source, endpoint=endpoint)
        self.repeats = RepeatGuard(what, source=source, endpoint=endpoint)

    def error(self, message: str, hint: str | None = None) -> MalformedResponse:
        return MalformedResponse(
            f"{self.what}: {message}", source=self.source, endpoint=self.endpoint, hint=hint
        )


class OffsetPaginator(_Checked, Generic[P]):
    """Pages by position. `fetch(skip, take)` returns one `Page` (a subclass may carry
    more). `identity(items)` names a page's items (their ids, say) so a page that repeats
    another is refused. `end`: without a total, what ends the list, an `"empty"` page
    (a short page may only mean the server caps `take`) or a `"short"` one. With
    `probe_past_total`, a last page that came full is followed by one more request at
    the total, which must be empty."""

    def __init__(
        self,
        fetch: Callable[[int, int], Awaitable[P]],
        *,
        page_size: int,
        concurrency: int = 4,
        what: str = "list",
        source: str | None = None,
        endpoint: str | None = None,
        identity: Identity = whole_page,
        end: str = "empty",
        probe_past_total: bool = False,
    ) -> None:
        super().__init__(what, source or "source", endpoint, identity)
        self.fetch, self.page_size, self.concurrency = fetch, page_size, concurrency
        self.end, self.probe_past_total = end, probe_past_total

    async def pages(self, first: P | None = None) -> AsyncIterator[P]:
        """Every page; `first` when the caller has already read it (to learn the list's
        form). With a total, pages after the first come in completion order."""
        if first is None:
            first = await self.fetch(0, self.page_size)
        pages = self._walk(first) if first.total is None else self._by_total(first)
        async with aclosing(pages):
            async for page in pages:
                yield page

    def _seen(self, page: P, at: str = "skip") -> P:
        self.tally.received(len(page.items))
        self.repeats.seen(f"{at} {page.skip}", self.identity(page.items))
        return page

    async def _walk(self, page: P) -> AsyncIterator[P]:
        step = len(page.items)
        while page.items:
            yield self._seen(page, at="offset")
            if self.end == "short" and len(page.items) < step:
                return
            page = await self.fetch(page.skip + len(page.items), self.page_size)

    async def _by_total(self, first: P) -> AsyncIterator[P]:
        total, step = first.total or 0, len(first.items)
        self.tally.declared(max(total, step))
        yield self._seen(first)
        self.tally.emitted(step)
        if step < total and step == 0:
            raise self.error(f"first page is empty but the total is {total}")
        step = min(step, self.page_size)
        last = first

        async def one(skip: int) -> AsyncIterator[P]:
            page = await self.fetch(skip, step)
            if not page.items:
                raise self.error(
                    f"empty page at skip {skip} of {total}", "the list changed while paging; rerun"
                )
            yield page

        skips = range(step, total, step) if step < total else range(0)
        async with aclosing(fan_in(skips, one, concurrency=self.concurrency)) as outcomes:
            async for outcome in outcomes:
                if outcome.error is not None:
                    raise outcome.error
                if outcome.item is not None:
                    page = self._seen(outcome.item)
                    last = max(last, page, key=lambda p: p.skip)
                    yield page
                    self.tally.emitted(len(page.items))
        self.tally.settle()
        full = len(last.items) == step and (last.skip > 0 or step >= self.page_size)
        if self.probe_past_total and total and full:
            await self._nothing_past(total, step)

    async def _nothing_past(self, total: int, step: int) -> None:
        """A full last page: make sure the total did not stop short of the rows."""
        extra = await self.fetch(total, step)
        if extra.items:
            raise Incomplete(
                f"{self.what}: the total says {total} but the host has rows at offset {total}",
                source=self.source,
                endpoint=self.endpoint,
                hint="nothing of this part was loaded; rerun",
            )


@dataclass(frozen=True)
class Followed:
    """One page of a followed list: its items, what to ask for next (None: the end), and
    what else the answer carried, for the caller."""

    items: list[Any]
    next: Any
    body: Any = None


# empty pages that still name a next cursor (Holistics may answer one); more in a row than
# this is a list that makes no progress
MAX_EMPTY_PAGES = 3


class CursorPaginator(_Checked):
    """Pages in a chain: `fetch(token)` with None first, then with each page's `next`
    (an `after` cursor, or a whole next link) until a page gives none. An empty page
    that names a next token is not the end. `kind` names the token in errors."""

    def __init__(
        self,
        fetch: Callable[[Any], Awaitable[Followed]],
        *,
        what: str,
        source: str,
        endpoint: str | None = None,
        identity: Identity = whole_page,
        kind: str = "cursor",
    ) -> None:
        super().__init__(what, source, endpoint, identity)
        self.fetch, self.kind = fetch, kind

    async def pages(self, first: Followed | None = None) -> AsyncIterator[Followed]:
        """Every page, `first` (already read by the caller) included, in order."""
        tokens: set[str] = set()
        token, step, empty = None, 1, 0
        page = first or await self.fetch(None)
        while True:
            where = f"page {step}" if token is None else f"page after {self.kind} {token!r}"
            self.repeats.seen(where, self.identity(page.items) if page.items else ())
            empty = 0 if page.items else empty + 1
            if empty > MAX_EMPTY_PAGES and page.next:
                raise self.error(
                    f"{empty} empty pages in a row, each naming a next {self.kind}; "
                    "the list makes no progress",
                    "nothing of this list was loaded; rerun, and report it if it persists",
                )
            if page.next and str(page.next) in tokens:
                raise self.error(
                    f"{self.kind} {page.next!r} repeated; the list would never end",
                    "the server ignores the paging parameter; nothing of this list was loaded",
                )
            yield page
            if not page.next:
                return
            token, step = page.next, step + 1
            tokens.add(str(token))
            page = await self.fetch(token)
