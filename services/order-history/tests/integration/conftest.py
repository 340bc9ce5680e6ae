"""Fixtures for order history's integration tests on the real stack.

Each test gets a fresh migrated database, its own consumer queue (random name, deleted at
the end, so parallel runs never share messages) and the app running in-process with tiny
retry delays. Events are published to shop.events the way the outbox relays do.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import asyncpg
import httpx
import pytest

from shopmesh_common.broker import ConsumerSpec
from shopmesh_common.events import EXCHANGE, Event
from shopmesh_common.testing import STACK_AMQP_URL, STACK_POSTGRES_URL, app_client, fresh_database
from shopmesh_order_history.main import create_app
from shopmesh_order_history.settings import Settings

RETRY_DELAYS = (0.2, 0.4)


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    name = f"order-history-test-{uuid.uuid4().hex[:10]}"
    yield name
    connection = await aio_pika.connect(STACK_AMQP_URL)
    async with connection:
        channel = await connection.channel()
        spec = ConsumerSpec(queue=name, routing_keys=(), retry_delays=tuple(RETRY_DELAYS))
        for queue_name in spec.all_queues:
            await channel.queue_delete(queue_name)


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
    async with app_client(create_app(settings)) as http:
        assert isinstance(http, httpx.AsyncClient)
        await eventually(lambda: _ready(http), within=30)
        yield http


async def _ready(http: httpx.AsyncClient) -> bool:
    return (await http.get("/health/ready")).status_code == 200


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15) -> None:
    """Poll `check` until it is true; fail the test after `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {within} s")
        await asyncio.sleep(0.05)


async def publish(*events: Event) -> None:
    """Publish `events` in order to shop.events with publisher confirms."""
    connection = await aio_pika.connect(STACK_AMQP_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        for event in events:
            await exchange.publish(
                aio_pika.Message(
                    body=event.model_dump_json().encode(),
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=str(event.event_id),
                    type=event.event_type,
                ),
                routing_key=event.event_type,
            )


class Tools:
    """The helpers the tests use, handed out as one fixture."""

    def __init__(self, settings: Settings) -> None:
        self._database_url = settings.database_url

    eventually = staticmethod(eventually)
    publish = staticmethod(publish)

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
            await publish(event)
            await eventually(lambda e=event: self.handled(e))


@pytest.fixture
def tools(settings: Settings) -> Tools:
    return Tools(settings)
