"""Fixtures for order history's integration tests on the real stack.

Each test gets a fresh migrated database, its own consumer queue (random name, deleted at
the end, so parallel runs never share messages) and the app running in-process with tiny
retry delays. Events are published to shop.events the way the outbox relays do.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from shopmesh_common.events import Event
from shopmesh_common.testing import (
    STACK_AMQP_URL,
    STACK_POSTGRES_URL,
    eventually,
    fresh_database,
    publish_events,
    ready_app_client,
    scratch_queue,
)
from shopmesh_order_history.main import create_app
from shopmesh_order_history.settings import Settings

RETRY_DELAYS = (0.2, 0.4)


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    async with scratch_queue("order-history", retry_delays=RETRY_DELAYS) as name:
        yield name


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with fresh_database("shopmesh_order_history", prefix="order_history") as url:
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def settings(database: str, queue: str) -> Settings:
    return Settings(
        postgres_url=STACK_POSTGRES_URL,
        database=database,
        amqp_url=STACK_AMQP_URL,
        queue=queue,
        retry_delays=RETRY_DELAYS,
        prefetch=8,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with ready_app_client(create_app(settings)) as http:
        yield http


class Tools:
    """The helpers the tests use, handed out as one fixture."""

    def __init__(self, settings: Settings) -> None:
        self._database_url = settings.database_url

    eventually = staticmethod(eventually)
    publish = staticmethod(publish_events)

    async def handled(self, *events: Event) -> bool:
        """Whether the read model has claimed every one of `events` (its inbox)."""
        conn = await asyncpg.connect(self._database_url)
        try:
            count = await conn.fetchval(
                "SELECT count(*) FROM inbox WHERE event_id = ANY($1::uuid[])",
                [e.event_id for e in events],
            )
        finally:
            await conn.close()
        return bool(count == len(events))

    async def publish_and_wait(self, *events: Event) -> None:
        """Publish `events` one at a time, each only after the previous one was applied."""
        for event in events:
            await publish_events(event)
            await eventually(functools.partial(self.handled, event))


@pytest.fixture
def tools(settings: Settings) -> Tools:
    return Tools(settings)
