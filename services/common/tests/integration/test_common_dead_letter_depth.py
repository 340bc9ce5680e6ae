"""`shopmesh_dead_letters{service, queue}` on the real RabbitMQ: the watch reports what is
parked in `<queue>.dead`, follows it when it changes, reads 0 for a queue not declared yet,
and survives a broker it cannot reach."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel
from prometheus_client import REGISTRY

from shopmesh_common.broker import ConsumerSpec, declare_topology
from shopmesh_common.dead_letters import watch_dead_letter_depth
from shopmesh_common.testing import STACK_AMQP_URL

pytestmark = pytest.mark.integration

INTERVAL = 0.1


def depth(service: str, queue: str) -> float | None:
    return REGISTRY.get_sample_value("shopmesh_dead_letters", {"service": service, "queue": queue})


async def eventually(service: str, queue: str, expected: float) -> None:
    for _ in range(100):
        if depth(service, queue) == expected:
            return
        await asyncio.sleep(INTERVAL)
    raise AssertionError(f"depth of {queue} is {depth(service, queue)}, expected {expected}")


async def park(channel: AbstractChannel, spec: ConsumerSpec, count: int) -> None:
    for n in range(count):
        await channel.default_exchange.publish(
            aio_pika.Message(b"{}", message_id=f"m{n}"), routing_key=spec.dead_queue
        )


@contextlib.asynccontextmanager
async def watching(
    service: str, amqp_url: str, queues: list[str]
) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(
        watch_dead_letter_depth(service, amqp_url, queues, interval_seconds=INTERVAL)
    )
    try:
        yield task
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("parked", [pytest.param(0, id="none"), pytest.param(3, id="three")])
async def test_depth_follows_the_dead_letter_queue(parked: int) -> None:
    service = f"svc-{uuid.uuid4().hex[:6]}"
    spec = ConsumerSpec(queue=f"test-depth-{uuid.uuid4().hex[:8]}", routing_keys=())
    never_declared = f"test-depth-missing-{uuid.uuid4().hex[:8]}"
    connection = await aio_pika.connect(STACK_AMQP_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await declare_topology(channel, spec)
        try:
            await park(channel, spec, parked)
            async with watching(service, STACK_AMQP_URL, [spec.queue, never_declared]):
                await eventually(service, spec.queue, parked)
                await eventually(service, never_declared, 0)
                await park(channel, spec, 2)  # more arrive: the gauge follows
                await eventually(service, spec.queue, parked + 2)
                dead = await channel.get_queue(spec.dead_queue)
                await dead.purge()  # replayed or dropped
                await eventually(service, spec.queue, 0)
        finally:
            for name in spec.all_queues:
                await channel.queue_delete(name)


async def test_unreachable_broker_keeps_the_watch_alive() -> None:
    service = f"svc-{uuid.uuid4().hex[:6]}"
    # A port nothing listens on: every connect fails at once.
    async with watching(service, "amqp://shopmesh:shopmesh@127.0.0.1:9/", ["orders"]) as task:
        await asyncio.sleep(5 * INTERVAL)
        assert not task.done()  # a failed connect is retried, not raised
    assert depth(service, "orders") is None  # never guessed
