"""A bulkhead per downstream: at most `max_concurrent` calls in flight to it at once.

One slow downstream must not take every connection, task and socket of the service
with it; a call that finds the bulkhead full waits at most `max_wait_seconds` for a
slot (0: not at all) and then fails fast with BulkheadFull. Used by client.py around
every attempt, inside the circuit breaker.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class BulkheadFull(Exception):
    """No slot came free within the bulkhead's max wait."""

    def __init__(self, name: str, max_concurrent: int) -> None:
        super().__init__(f"bulkhead {name!r} is full ({max_concurrent} calls in flight)")
        self.name = name
        self.max_concurrent = max_concurrent


class Bulkhead:
    def __init__(self, name: str, max_concurrent: int, max_wait_seconds: float = 0.0) -> None:
        if max_concurrent < 1 or max_wait_seconds < 0:
            raise ValueError("max_concurrent must be >= 1 and max_wait_seconds >= 0")
        self.name = name
        self.max_concurrent = max_concurrent
        self.max_wait_seconds = max_wait_seconds
        self._semaphore = asyncio.Semaphore(max_concurrent)
        self._in_use = 0

    @property
    def in_use(self) -> int:
        return self._in_use

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the body of the `async with`; raise BulkheadFull if none
        comes free in time."""
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    async def acquire(self) -> None:
        """Take one slot (give it back with `release`); raise BulkheadFull if none comes
        free in time. What `slot` does, without a context manager on the hot path."""
        # locked() is also true while others queue for a slot, so a newcomer does not
        # jump the queue. A free slot is taken at once: no timer for a wait that cannot
        # happen (arming asyncio.timeout per call showed in the gateway's profile).
        if not self._semaphore.locked():
            await self._semaphore.acquire()
        elif self.max_wait_seconds == 0:
            raise BulkheadFull(self.name, self.max_concurrent)
        else:
            try:
                async with asyncio.timeout(self.max_wait_seconds):
                    await self._semaphore.acquire()
            except TimeoutError:
                raise BulkheadFull(self.name, self.max_concurrent) from None
        self._in_use += 1

    def release(self) -> None:
        """Give back a slot taken by `acquire`."""
        self._in_use -= 1
        self._semaphore.release()
