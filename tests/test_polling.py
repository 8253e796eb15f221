"""Waiting for vendor jobs: pauses that grow (tenacity), a deadline looked at once more,
status asked in batches, and a job that joins late looked at soon."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from itertools import pairwise

import pytest

from sources.common.batch_jobs import BatchPoller
from sources.common.errors import JobTimeout
from sources.common.jobs import poll_until


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in pairwise(times)]


def test_poll_until_returns_the_first_value_after_growing_pauses() -> None:
    calls: list[float] = []

    async def check() -> str | None:
        calls.append(time.monotonic())
        return "done" if len(calls) == 5 else None

    result = asyncio.run(
        poll_until(check, timeout=30, what="job", interval=0.02, factor=2, max_interval=0.05)
    )

    assert result == "done" and len(calls) == 5
    for gap, least in zip(gaps(calls), [0.02, 0.04, 0.05, 0.05], strict=True):
        assert gap >= least * 0.95  # grows by `factor`, capped at `max_interval`


def test_poll_until_looks_once_more_at_the_deadline_then_times_out() -> None:
    calls: list[float] = []

    async def check() -> None:
        calls.append(time.monotonic())

    started = time.monotonic()
    with pytest.raises(JobTimeout, match=r"the report did not finish within 0.3 s \(job_timeout\)"):
        asyncio.run(
            poll_until(
                check, timeout=0.3, what="the report", interval=0.2, factor=10, max_interval=5
            )
        )
    elapsed = time.monotonic() - started
    # pauses of 0.2 s then 2 s, the second cut to the 0.1 s left: the last look is at the
    # deadline, not two seconds past it
    assert calls[-1] - started >= 0.3 * 0.95 and elapsed < 1.5
    assert len(calls) == 3


def test_poll_until_raises_an_error_of_check_as_it_is() -> None:
    calls = 0

    async def check() -> None:
        nonlocal calls
        calls += 1
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError, match="refused"):
        asyncio.run(poll_until(check, timeout=30, what="job", interval=0.01))
    assert calls == 1


def test_batch_poller_asks_in_batches_with_growing_pauses_and_sees_a_late_job_soon() -> None:
    rounds: list[tuple[float, list[int]]] = []
    finished: set[str] = set()

    async def fetch(ids: Sequence[str]) -> dict[str, str]:
        if not rounds or rounds[-1][0] < time.monotonic() - 0.01:
            rounds.append((time.monotonic(), []))
        rounds[-1][1].append(len(ids))
        return {i: ("done" if i in finished else "running") for i in ids}

    async def scenario() -> float:
        poller = BatchPoller(
            fetch=fetch,
            finished=lambda status: status == "done",
            batch_size=2,
            interval=0.05,
            factor=4,
            max_interval=2.0,
        )
        async with poller:
            early = [asyncio.create_task(poller.wait(str(i), what="job")) for i in range(5)]
            await asyncio.sleep(0.5)  # rounds at 0.05 and 0.25 s; the next one at 1.05 s
            joined = time.monotonic()
            finished.add("late")
            await poller.wait("late", what="late job")
            seen_after = time.monotonic() - joined
            finished.update(str(i) for i in range(5))
            assert [await task for task in early] == ["done"] * 5
        return seen_after

    seen_after = asyncio.run(scenario())

    assert rounds[0][1] == [2, 2, 1]  # five jobs, batches of two
    starts = [at for at, _ in rounds]
    assert gaps(starts)[0] >= 0.2 * 0.95  # 0.05 s before the first round, then 4x that
    assert seen_after < 0.45  # within `interval`, not at the 0.8 s pause's end
