"""Helpers for the services' integration tests on the real stack (`make stack-up`).

`fresh_database(prefix)` creates a throw-away database on the stack's PostgreSQL, migrated to
head for the given service package, and drops it afterwards; `app_client(app)` runs a
service app's lifespan and returns an httpx client bound to it in-process. Unit tests do
not use this module.

For the consumer services (notifications, order-history): `scratch_queue` names a queue of
their own for one test and deletes it afterwards, `ready_app_client` waits until the app is
ready (its consumer consumes), `publish_events` / `publish_raw` publish to shop.events like
the outbox relays, and `eventually` polls a condition.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import aio_pika
import asyncpg
import httpx
from fastapi import FastAPI

from .broker import ConsumerSpec
from .events import EXCHANGE, Event
from .migrate import upgrade

STACK_POSTGRES_URL = os.environ.get(
    "SHOPMESH_POSTGRES_URL", "postgresql://shopmesh:shopmesh@127.0.0.1:15432"
)
STACK_AMQP_URL = os.environ.get("SHOPMESH_AMQP_URL", "amqp://shopmesh:shopmesh@127.0.0.1:16672/")
STACK_REDIS_URL = os.environ.get("SHOPMESH_REDIS_URL", "redis://127.0.0.1:16379/0")


@asynccontextmanager
async def fresh_database(package: str, *, prefix: str = "test") -> AsyncIterator[str]:
    """A new database migrated with `package`'s migrations; yields its URL, then drops it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(f"{STACK_POSTGRES_URL}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{STACK_POSTGRES_URL}/{name}"
        await asyncio.to_thread(upgrade, package, url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def app_client(
    app: FastAPI, *, base_url: str = "http://test"
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx.AsyncClient talking to `app` in-process, with its lifespan running."""
    from asgi_lifespan import LifespanManager

    async with LifespanManager(app, startup_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client


async def eventually(check: Callable[[], Awaitable[bool]], *, within: float = 15) -> None:
    """Poll `check` until it is true; fail (AssertionError) after `within` seconds."""
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def ready_app_client(app: FastAPI, *, within: float = 30) -> AsyncIterator[httpx.AsyncClient]:
    """`app_client(app)`, yielded once `/health/ready` answers 200 (consumers are consuming)."""
    async with app_client(app) as client:

        async def ready() -> bool:
            return (await client.get("/health/ready")).status_code == 200

        await eventually(ready, within=within)
        yield client


@asynccontextmanager
async def scratch_queue(prefix: str, *, retry_delays: tuple[float, ...]) -> AsyncIterator[str]:
    """A random consumer queue name; afterwards its queue, retry queues and dead-letter
    queue are deleted, so parallel runs never share messages."""
    name = f"{prefix}-test-{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        connection = await aio_pika.connect(STACK_AMQP_URL)
        async with connection:
            channel = await connection.channel()
            spec = ConsumerSpec(queue=name, routing_keys=(), retry_delays=retry_delays)
            for queue_name in spec.all_queues:
                await channel.queue_delete(queue_name)


async def publish_raw(body: bytes, *, routing_key: str, message_id: str) -> None:
    """Publish one message to shop.events with publisher confirms (also malformed ones)."""
    await _publish([(body, routing_key, message_id)])


async def publish_events(*events: Event) -> None:
    """Publish `events` in order to shop.events the way the outbox relays do."""
    await _publish([(e.model_dump_json().encode(), e.event_type, str(e.event_id)) for e in events])


async def _publish(messages: list[tuple[bytes, str, str]]) -> None:
    connection = await aio_pika.connect(STACK_AMQP_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        for body, routing_key, message_id in messages:
            await exchange.publish(
                aio_pika.Message(
                    body=body,
                    content_type="application/json",
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=message_id,
                    type=routing_key,
                ),
                routing_key=routing_key,
            )
