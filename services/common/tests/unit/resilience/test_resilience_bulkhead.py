"""The bulkhead: a cap on calls in flight, a bounded wait for a slot, then BulkheadFull."""

from __future__ import annotations

import asyncio
import time

import pytest

from shopmesh_common.resilience import Bulkhead, BulkheadFull


async def hold(bulkhead: Bulkhead, release: asyncio.Event) -> None:
    async with bulkhead.slot():
        await release.wait()


async def test_never_more_calls_in_flight_than_the_limit() -> None:
    bulkhead = Bulkhead("inventory", max_concurrent=3, max_wait_seconds=5)
    in_flight = peak = 0

    async def call() -> None:
        nonlocal in_flight, peak
        async with bulkhead.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1

    await asyncio.gather(*(call() for _ in range(10)))

    assert peak == 3
    assert bulkhead.in_use == 0


@pytest.mark.parametrize("max_wait", [pytest.param(0, id="no wait"), pytest.param(0.05, id="wait")])
async def test_full_bulkhead_refuses_after_max_wait(max_wait: float) -> None:
    bulkhead = Bulkhead("inventory", max_concurrent=1, max_wait_seconds=max_wait)
    release = asyncio.Event()
    holder = asyncio.create_task(hold(bulkhead, release))
    await asyncio.sleep(0)
    started = time.monotonic()

    with pytest.raises(BulkheadFull, match="'inventory' is full"):
        async with bulkhead.slot():
            pass

    waited = time.monotonic() - started
    assert max_wait <= waited < max_wait + 0.5
    assert bulkhead.in_use == 1
    release.set()
    await holder


async def test_a_waiting_call_gets_the_slot_given_back_in_time() -> None:
    bulkhead = Bulkhead("inventory", max_concurrent=1, max_wait_seconds=2)
    release = asyncio.Event()
    holder = asyncio.create_task(hold(bulkhead, release))
    await asyncio.sleep(0)
    asyncio.get_running_loop().call_later(0.05, release.set)

    async with bulkhead.slot():
        assert bulkhead.in_use == 1

    await holder
    assert bulkhead.in_use == 0


async def test_a_failing_call_gives_its_slot_back() -> None:
    bulkhead = Bulkhead("inventory", max_concurrent=1)

    with pytest.raises(RuntimeError):
        async with bulkhead.slot():
            raise RuntimeError("boom")

    async with bulkhead.slot():
        assert bulkhead.in_use == 1


async def test_a_refused_waiter_does_not_take_a_slot() -> None:
    bulkhead = Bulkhead("inventory", max_concurrent=1, max_wait_seconds=0.01)
    release = asyncio.Event()
    holder = asyncio.create_task(hold(bulkhead, release))
    await asyncio.sleep(0)
    with pytest.raises(BulkheadFull):
        async with bulkhead.slot():
            pass
    release.set()
    await holder

    async with bulkhead.slot():  # would fail if the timed-out wait had kept a slot
        assert bulkhead.in_use == 1
