"""core/fair_pool.py: connections given back go to the waiters in the order they came."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.util import greenlet_spawn
from sqlalchemy.util.queue import Empty

from core.fair_pool import FairQueue


async def _get(queue: FairQueue, within: float | None = None) -> object:
    # The pool calls `get` from SQLAlchemy's greenlet bridge, as here.
    return await greenlet_spawn(queue.get, True, within)


async def test_a_connection_given_back_goes_to_the_first_waiter_not_to_a_newcomer() -> None:
    queue = FairQueue(maxsize=1)
    queue.put_nowait("conn")
    assert await _get(queue) == "conn"  # nobody waits: taken at once
    got: list[str] = []

    async def wait(name: str) -> None:
        got.append(f"{name}:{await _get(queue)}")

    first = asyncio.create_task(wait("first"))
    second = asyncio.create_task(wait("second"))
    await asyncio.sleep(0.01)  # both wait now
    queue.put_nowait("conn")  # given back ...
    newcomer = asyncio.create_task(wait("newcomer"))  # ... and a request arrives at once
    await asyncio.sleep(0.01)
    assert got == ["first:conn"]  # the newcomer did not take it
    queue.put_nowait("conn")
    await asyncio.sleep(0.01)
    queue.put_nowait("conn")
    await asyncio.gather(first, second, newcomer)
    assert got == ["first:conn", "second:conn", "newcomer:conn"]
    assert queue.qsize() == 0


async def test_a_wait_that_times_out_leaves_no_waiter_behind() -> None:
    queue = FairQueue(maxsize=1)
    with pytest.raises(Empty):
        await _get(queue, within=0.02)
    queue.put_nowait("conn")  # nobody waits any more: it stays idle for the next request
    assert queue.qsize() == 1
    assert await _get(queue) == "conn"


async def test_a_cancelled_waiter_passes_a_connection_handed_to_it_on() -> None:
    queue = FairQueue(maxsize=1)
    doomed = asyncio.create_task(_get(queue))
    patient = asyncio.create_task(_get(queue))
    await asyncio.sleep(0.01)
    queue.put_nowait("conn")  # handed to `doomed` ...
    doomed.cancel()  # ... which is cancelled before it runs
    assert await patient == "conn"
    with pytest.raises(asyncio.CancelledError):
        await doomed
