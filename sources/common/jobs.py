"""Run many vendor jobs at once: bounded concurrency, polling with backoff, a time limit.

`fan_in` runs one async generator per spec (a report window, a widget export), at most
`concurrency` at a time, and merges what they yield into one stream through a bounded
queue, so a slow consumer holds producers back instead of piling results up in memory.
A failing spec becomes an `Outcome` carrying its exception; the others go on."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
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
    concurrency: int,
    buffer: int = 4,
) -> AsyncIterator[Outcome[S]]:
    queue: asyncio.Queue[Outcome[S]] = asyncio.Queue(maxsize=max(1, buffer))
    gate = asyncio.Semaphore(max(1, concurrency))

    async def run(spec: S) -> None:
        async with gate:
            try:
                async for item in worker(spec):
                    await queue.put(Outcome(spec, item=item))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await queue.put(Outcome(spec, error=exc))
                return
            await queue.put(Outcome(spec, done=True))

    tasks = [asyncio.create_task(run(spec)) for spec in specs]
    pending = len(tasks)
    try:
        while pending:
            outcome = await queue.get()
            if outcome.done or outcome.error is not None:
                pending -= 1
            yield outcome
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
