"""Wait for many vendor jobs with one status request per batch, not one per job.

Vendors with a "list jobs by ids" endpoint (Holistics `GET /jobs?ids[]=…`, up to 100 ids)
let N concurrent jobs be polled with N/100 requests per round instead of N, which keeps
the poll traffic inside the quota however many jobs run. `BatchPoller.wait(job_id)` is
awaited by each job's own coroutine; one background task polls all waiting jobs together
with growing pauses and wakes each waiter when its job reaches an end state.

    poller = BatchPoller(fetch=list_jobs, finished=is_final, batch_size=100, interval=0.5)
    async with poller:
        status = await poller.wait(job_id, what="export of widget 7")

A failing status request is handed to every job of that batch, so their waiters fail
with the request's error (after the HTTP layer's own retries) instead of hanging."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from dlt.common.utils import chunks
from tenacity import AsyncRetrying, retry_if_result, wait_exponential

from sources.common.errors import JobTimeout

Fetch = Callable[[Sequence[str]], Awaitable[Mapping[str, Any]]]


class BatchPoller:
    def __init__(
        self,
        *,
        fetch: Fetch,
        finished: Callable[[Any], bool],
        batch_size: int = 100,
        interval: float = 0.5,
        max_interval: float = 5.0,
        factor: float = 1.5,
        timeout: float = 600.0,
    ) -> None:
        self.fetch = fetch
        self.finished = finished
        self.batch_size = max(1, batch_size)
        self.interval, self.max_interval, self.factor = interval, max_interval, factor
        self.timeout = timeout
        self.rounds = 0
        self._waiting: dict[str, tuple[asyncio.Future[Any], float, str]] = {}
        self._wake = asyncio.Event()
        self._due = 0.0  # when the pause under way ends (past while none is)
        self._fresh = False
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BatchPoller:
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        for future, _, _ in self._waiting.values():
            future.cancel()
        self._waiting.clear()

    async def wait(self, job_id: str, *, what: str) -> Any:
        """The job's final status object; `JobTimeout` when it takes longer than `timeout`."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        now = time.monotonic()
        self._waiting[str(job_id)] = (future, now + self.timeout, what)
        self._fresh = True
        if now + self.interval < self._due:  # a new job is looked at soon, not in 5 s
            self._due = now + self.interval
            self._wake.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        return await future

    async def _run(self) -> None:
        """Status rounds while jobs wait, spaced by tenacity's exponential wait: `interval`
        before the first round after a job joined, `factor` times longer after each round
        since (up to `max_interval`)."""
        backoff = wait_exponential(
            multiplier=self.interval * self.factor, exp_base=self.factor, max=self.max_interval
        )
        while self._waiting:
            self._fresh = False
            await self._pause(self.interval)
            async for attempt in AsyncRetrying(
                retry=retry_if_result(lambda _: bool(self._waiting) and not self._fresh),
                wait=backoff,
                sleep=self._pause,
            ):
                with attempt:
                    await self._round()

    async def _pause(self, seconds: float) -> None:
        """The sleep between rounds; a job that joins ends it within `interval`."""
        self._due = time.monotonic() + seconds
        while (left := self._due - time.monotonic()) > 0:
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=left)

    async def _round(self) -> None:
        self.rounds += 1
        batches = list(chunks(list(self._waiting), self.batch_size))
        results = await asyncio.gather(*(self.fetch(b) for b in batches), return_exceptions=True)
        now = time.monotonic()
        for batch, result in zip(batches, results, strict=True):
            for job_id in batch:
                entry = self._waiting.get(job_id)
                if entry is None:
                    continue
                _, deadline, what = entry
                if isinstance(result, BaseException):
                    if isinstance(result, asyncio.CancelledError):
                        raise result
                    self._settle(job_id, error=result)
                    continue
                status = result.get(job_id)
                if status is not None and self.finished(status):
                    self._settle(job_id, value=status)
                elif now >= deadline:
                    self._settle(
                        job_id,
                        error=JobTimeout(
                            f"{what} did not finish within {self.timeout:g} s (job_timeout)"
                        ),
                    )

    def _settle(
        self, job_id: str, *, value: Any = None, error: BaseException | None = None
    ) -> None:
        future, _, _ = self._waiting.pop(job_id)
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
