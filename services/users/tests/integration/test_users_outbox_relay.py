"""The outbox relay publishes `user.registered` to RabbitMQ (real PostgreSQL and RabbitMQ)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import aio_pika
import httpx
import pytest
import pytest_asyncio
from aio_pika.abc import AbstractQueue

from shopmesh_common.events import EXCHANGE
from shopmesh_common.testing import STACK_AMQP_URL, app_client, fresh_database
from shopmesh_users.main import create_app

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def db_url() -> AsyncIterator[str]:
    async with fresh_database("shopmesh_users", prefix="users") as url:
        yield url


@pytest_asyncio.fixture
async def registered_queue() -> AsyncIterator[AbstractQueue]:
    """A temporary queue bound to user.registered, declared before anything is published."""
    connection = await aio_pika.connect(STACK_AMQP_URL)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(
            f"test.users.registered.{uuid.uuid4().hex[:8]}", exclusive=True, auto_delete=True
        )
        await queue.bind(exchange, routing_key="user.registered")
        yield queue


async def _message_for(queue: AbstractQueue, user_id: str) -> aio_pika.IncomingMessage:
    # Other test runs may publish user.registered at the same time: skip their events.
    async with queue.iterator() as messages:
        async for message in messages:
            await message.ack()
            if json.loads(message.body)["aggregate_id"] == user_id:
                return cast(aio_pika.IncomingMessage, message)
    raise AssertionError("queue closed")


async def test_signup_event_reaches_rabbitmq(
    db_url: str, make_settings: Any, sql: Any, registered_queue: AbstractQueue
) -> None:
    email = f"relay.{uuid.uuid4().hex[:8]}@example.com"
    settings = make_settings(db_url, relay_enabled=True, amqp_url=STACK_AMQP_URL)
    async with app_client(create_app(settings)) as raw:
        client = cast(httpx.AsyncClient, raw)
        response = await client.post(
            "/signup", json={"email": email, "password": "correct horse", "name": "Relay"}
        )
        assert response.status_code == 201
        user_id = response.json()["id"]
        message = await asyncio.wait_for(_message_for(registered_queue, user_id), 20)
        # The relay marks the row sent right after the broker's confirm (and our delivery).
        sent = "SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL"
        for _ in range(50):
            if await sql(db_url, sent) == 1:
                break
            await asyncio.sleep(0.1)
        assert await sql(db_url, sent) == 1

    event = json.loads(message.body)
    assert message.routing_key == "user.registered"
    assert message.message_id == event["event_id"]
    assert (event["event_type"], event["aggregate_type"]) == ("user.registered", "user")
    assert event["sequence"] == 1
    assert event["data"] == {"user_id": user_id, "email": email, "name": "Relay"}
