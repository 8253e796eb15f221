"""Run many vendor calls at once: the one concurrency bound, polling with backoff, a time limit.

`fan_in` runs one async generator per spec (a report window, a widget export, a page),
at most `concurrency` at a time, and merges what they yield into one stream through a
bounded queue, so a slow consumer holds producers back instead of piling results up in
memory. `concurrency` workers take the specs one after another from one iterator, so a
million specs never make a million tasks, and a worker that ends one spec starts the
next at once: the pipe stays full. A failing spec becomes an `Outcome` carrying its
exception; the others go on. `each` is `asyncio.gather` under the same bound.

Every bound on concurrent requests in `sources/` is one of these two; the HTTP session's
connection pool (`HttpPolicy.max_connections`) caps what all of them add up to."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Generic, NoReturn, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_result,
    stop_after_delay,
    wait_exponential,
)

from sources.common.errors import JobTimeout

S = TypeVar("S")
T = TypeVar("T")


class Bound:
    """One limit on calls in flight that several `fan_in`s share: a source whose setting
    bounds all of its requests (Quantive's `concurrency`) gives every resource the same
    `Bound`, so resources running at once add up to the limit, not to a multiple of it.
    Never share it with a `fan_in` nested inside one of its workers: the outer calls
    would hold every slot while they wait for the inner ones."""

    def __init__(self, limit: int) -> None:
        self.limit = max(1, limit)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._slots = asyncio.Semaphore(self.limit)

    @property
    def slots(self) -> asyncio.Semaphore:
        """The slots of the running event loop (a source rerun may run on a new one)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._slots = loop, asyncio.Semaphore(self.limit)
        return self._slots


@dataclass
class Outcome(Generic[S]):
    """One event of a spec: an item it yielded, its failure, or its successful end."""

    spec: S
    item: Any = None
    error: BaseException | None = None
    done: bool = False


async def fan_in(
    specs: Iterable[S],
    worker: Callable[[S], AsyncIterator[Any]],
    *,
    concurrency: int | Bound,
    buffer: int = 4,
) -> AsyncIterator[Outcome[S]]:
    queue: asyncio.Queue[Outcome[S] | None] = asyncio.Queue(maxsize=max(1, buffer))
    todo = iter(specs)
    broken: list[Exception] = []  # pulling the next spec failed: the caller gets it
    shared = concurrency if isinstance(concurrency, Bound) else None

    async def one(spec: S) -> None:
        try:
            async for item in worker(spec):
                await queue.put(Outcome(spec, item=item))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await queue.put(Outcome(spec, error=exc))
            return
        await queue.put(Outcome(spec, done=True))

    async def run() -> None:
        try:
            for spec in todo:  # shared by every worker: each takes the next spec when free
                if shared is None:
                    await one(spec)
                else:
                    async with shared.slots:
                        await one(spec)
        except Exception as exc:  # from the iterable: `one` keeps each spec's own errors
            broken.append(exc)
        await queue.put(None)  # this worker has no spec left

    count = concurrency.limit if isinstance(concurrency, Bound) else max(1, concurrency)
    workers = [asyncio.create_task(run()) for _ in range(count)]
    running = len(workers)
    try:
        while running:
            outcome = await queue.get()
            if outcome is None:
                running -= 1
                if broken:
                    raise broken[0]
            else:
                yield outcome
    finally:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


async def each(
    items: Iterable[S], fetch: Callable[[S], Awaitable[T]], *, concurrency: int | Bound
) -> list[T]:
    """`fetch(item)` for every item, at most `concurrency` at once: the results in the
    items' order. The first failure raises and the calls still running are cancelled."""
    indexed = list(enumerate(items))
    results: list[Any] = [None] * len(indexed)

    async def one(pair: tuple[int, S]) -> AsyncIterator[tuple[int, T]]:
        yield pair[0], await fetch(pair[1])

    async with aclosing(fan_in(indexed, one, concurrency=concurrency)) as outcomes:
        async for outcome in outcomes:
            if outcome.error is not None:
                raise outcome.error  # closing fan_in cancels the calls still running
            if not outcome.done:
                index, result = outcome.item
                results[index] = result
    return results


async def poll_until(
    check: Callable[[], Awaitable[T | None]],
    *,
    timeout: float,
    what: str,
    interval: float = 0.5,
    max_interval: float = 5.0,
    factor: float = 1.5,
) -> T:
    """Call `check` with growing pauses (tenacity's exponential wait) until it returns a
    value; `JobTimeout` after `timeout`. The last pause is cut to the time left, so the
    job is looked at once more at the deadline; an error of `check` is raised as it is."""
    backoff = wait_exponential(multiplier=interval, exp_base=factor, max=max_interval)

    def pause(state: RetryCallState) -> float:
        return max(0.0, min(backoff(state), timeout - state.seconds_since_start))

    def timed_out(state: RetryCallState) -> NoReturn:
        raise JobTimeout(f"{what} did not finish within {timeout:g} s (job_timeout)")

    retrying = AsyncRetrying(
        retry=retry_if_result(lambda result: result is None),
        wait=pause,
        stop=stop_after_delay(timeout),
        retry_error_callback=timed_out,
    )
    return await retrying(check)
