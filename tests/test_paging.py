"""The paginators (sources/common/paging.py) and the concurrency bound (fan_in, each in
sources/common/jobs.py): every item once, the window kept full, and every way a server
can lose items while paging a loud error, never a gap or a de-duplication."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from sources.common.completeness import Incomplete
from sources.common.errors import MalformedResponse
from sources.common.jobs import Bound, each, fan_in
from sources.common.paging import CursorPaginator, Followed, OffsetPaginator, Page

ITEMS = list(range(10))


def collect(fetch, *, page_size: int = 3, first: Page | None = None, **options) -> list[int]:
    async def go() -> list[int]:
        paginator = OffsetPaginator(
            fetch, page_size=page_size, concurrency=2, what="items", source="src", **options
        )
        return [item async for page in paginator.pages(first) for item in page.items]

    return asyncio.run(go())


# -- offset with a total -------------------------------------------------------------------


def test_offset_pages_with_a_total_read_every_item_once() -> None:
    async def fetch(skip: int, take: int) -> Page:
        return Page(skip, ITEMS[skip : skip + take], len(ITEMS))

    assert sorted(collect(fetch)) == ITEMS


def test_pages_after_the_first_run_concurrency_at_a_time_and_keep_the_window_full() -> None:
    items, flight, peak, starts = list(range(100)), [0], [0], []

    async def fetch(skip: int, take: int) -> Page:
        starts.append(flight[0])  # requests in flight when this one starts
        flight[0] += 1
        peak[0] = max(peak[0], flight[0])
        await asyncio.sleep(0.002 if skip % 2 else 0.005)  # pages of uneven latency
        flight[0] -= 1
        return Page(skip, items[skip : skip + take], len(items))

    assert sorted(collect(fetch, page_size=5)) == items
    assert peak[0] == 2
    # every page after the second starts while the other slot is busy: no waves
    assert starts[2:-1] == [1] * (len(starts) - 3)


def test_a_server_that_ignores_skip_is_an_error_not_a_dedup() -> None:
    async def fetch(skip: int, take: int) -> Page:
        return Page(skip, ITEMS[:take], len(ITEMS))  # skip ignored

    with pytest.raises(MalformedResponse, match="repeats"):
        collect(fetch)
    with pytest.raises(MalformedResponse, match="repeats 0 already sent at skip 0"):
        collect(fetch, identity=lambda page: page)  # by item id


def test_a_short_page_inside_the_total_is_an_error() -> None:
    async def fetch(skip: int, take: int) -> Page:
        take = take - 1 if skip == 3 else take  # one page one item short: a gap
        return Page(skip, ITEMS[skip : skip + take], len(ITEMS))

    with pytest.raises(Incomplete, match=r"announced 10 record\(s\) and sent 9"):
        collect(fetch)


def test_an_empty_page_inside_the_total_is_an_error() -> None:
    async def fetch(skip: int, take: int) -> Page:
        return Page(skip, [] if skip == 6 else ITEMS[skip : skip + take], len(ITEMS))

    with pytest.raises(MalformedResponse, match="empty page at skip 6 of 10"):
        collect(fetch)


def test_rows_past_a_total_that_stops_short_are_an_error_when_probed() -> None:
    async def fetch(skip: int, take: int) -> Page:
        return Page(skip, ITEMS[skip : skip + take], 9)  # the host has a tenth row

    assert collect(fetch) == ITEMS[:9]  # no probe: the total is all there is to go by
    with pytest.raises(Incomplete, match="says 9 but the host has rows at offset 9"):
        collect(fetch, probe_past_total=True)


# -- offset without a total ----------------------------------------------------------------


def test_without_a_total_pages_follow_one_another_to_an_empty_page() -> None:
    asked: list[int] = []

    async def fetch(skip: int, take: int) -> Page:
        asked.append(skip)
        return Page(skip, ITEMS[skip : skip + min(take, 2)], None)  # the server caps take

    assert collect(fetch) == ITEMS  # a short page is not the end
    assert asked == [0, 2, 4, 6, 8, 10]
    asked.clear()
    assert collect(fetch, end="short", first=Page(0, ITEMS[:3], None)) == ITEMS[:5]
    assert asked == [3]  # 2 rows after a first page of 3: the end


def test_without_a_total_a_repeated_page_is_an_error() -> None:
    async def fetch(skip: int, take: int) -> Page:
        return Page(skip, ITEMS[:take], None)

    with pytest.raises(MalformedResponse, match="offset 3 repeats"):
        collect(fetch)


# -- cursors and next links ----------------------------------------------------------------


def follow(pages: dict[Any, Followed], **options) -> list[int]:
    async def fetch(token: Any) -> Followed:
        return pages[token]

    async def go() -> list[int]:
        paginator = CursorPaginator(fetch, what="items", source="src", **options)
        return [item async for page in paginator.pages() for item in page.items]

    return asyncio.run(go())


def test_cursor_pages_are_followed_in_order_across_an_empty_page() -> None:
    pages = {None: Followed([1, 2], "a"), "a": Followed([], "b"), "b": Followed([3], None)}
    assert follow(pages) == [1, 2, 3]


def test_a_cursor_that_comes_again_is_an_error_not_a_loop() -> None:
    pages = {None: Followed([1], "a"), "a": Followed([2], "b"), "b": Followed([3], "a")}
    with pytest.raises(MalformedResponse, match="next link 'a' repeated"):
        follow(pages, kind="next link")


def test_empty_cursor_pages_without_end_are_an_error_not_a_loop() -> None:
    pages = {None: Followed([1], "c0")} | {f"c{n}": Followed([], f"c{n + 1}") for n in range(99)}
    with pytest.raises(MalformedResponse, match="empty pages in a row"):
        follow(pages)


def test_a_cursor_page_that_repeats_items_is_an_error() -> None:
    pages = {None: Followed([1, 2], "a"), "a": Followed([2, 3], None)}
    with pytest.raises(MalformedResponse, match="page after cursor 'a' repeats 2"):
        follow(pages, identity=lambda items: items)


# -- the concurrency bound -----------------------------------------------------------------


def test_fan_in_starts_specs_lazily_and_no_more_than_concurrency_at_once() -> None:
    started, flight, peak = [0], [0], [0]

    def specs() -> Iterator[int]:
        for spec in range(1_000):
            started[0] += 1
            yield spec

    async def worker(spec: int) -> AsyncIterator[int]:
        flight[0] += 1
        peak[0] = max(peak[0], flight[0])
        await asyncio.sleep(0)
        flight[0] -= 1
        yield spec

    async def go() -> tuple[list[int], int]:
        got = []
        async for outcome in fan_in(specs(), worker, concurrency=4):
            if outcome.item is not None:
                got.append(outcome.item)
                if len(got) == 10:
                    return got, started[0]
        return got, started[0]

    got, taken = asyncio.run(go())
    assert len(got) == 10 and peak[0] == 4
    assert taken < 30  # the specs not yet needed were never taken from the iterator


def test_fan_in_raises_what_its_spec_iterable_raises_instead_of_waiting_forever() -> None:
    def specs() -> Iterator[int]:
        yield 1
        raise ValueError("bad spec")

    async def worker(spec: int) -> AsyncIterator[int]:
        yield spec

    async def go() -> list[Any]:
        return [outcome async for outcome in fan_in(specs(), worker, concurrency=2)]

    with pytest.raises(ValueError, match="bad spec"):
        asyncio.run(asyncio.wait_for(go(), timeout=5))


def test_fan_in_reports_a_failing_spec_and_goes_on_with_the_others() -> None:
    async def worker(spec: int) -> AsyncIterator[int]:
        if spec == 2:
            raise ValueError("spec 2")
        yield spec

    async def go() -> tuple[list[int], list[int]]:
        items, failed = [], []
        async for outcome in fan_in(range(5), worker, concurrency=2):
            if outcome.error is not None:
                failed.append(outcome.spec)
            elif outcome.item is not None:
                items.append(outcome.item)
        return sorted(items), failed

    assert asyncio.run(go()) == ([0, 1, 3, 4], [2])


def test_each_keeps_the_order_of_its_items_and_raises_the_first_failure() -> None:
    async def slow_square(n: int) -> int:
        await asyncio.sleep(0.001 * (5 - n))
        return n * n

    assert asyncio.run(each(range(5), slow_square, concurrency=3)) == [0, 1, 4, 9, 16]

    async def failing(n: int) -> int:
        if n == 3:
            raise MalformedResponse("item 3", source="src")
        return n

    with pytest.raises(MalformedResponse, match="item 3"):
        asyncio.run(each(range(5), failing, concurrency=2))


def test_fan_ins_that_share_a_bound_stay_within_it_together() -> None:
    flight, peak = [0], [0]

    async def worker(spec: int) -> AsyncIterator[int]:
        flight[0] += 1
        peak[0] = max(peak[0], flight[0])
        await asyncio.sleep(0.001)
        flight[0] -= 1
        yield spec

    async def drain(bound: Bound) -> list[int]:
        return [o.item async for o in fan_in(range(20), worker, concurrency=bound) if o.item]

    async def go(bound: Bound) -> list[list[int]]:
        return list(await asyncio.gather(drain(bound), drain(bound), drain(bound)))

    bound = Bound(4)
    for _ in range(2):  # a second run on a new event loop
        assert [sorted(got) for got in asyncio.run(go(bound))] == [list(range(1, 20))] * 3
        assert peak[0] == 4
