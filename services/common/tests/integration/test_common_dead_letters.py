"""Dead letters on the stack's real RabbitMQ: listing them many times (more than a quorum
queue's default delivery limit of 20 on RabbitMQ 4) leaves every one parked, in order,
never redelivered; replaying one sends it to its queue and leaves the others as they
were."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest
from aio_pika.abc import AbstractChannel

from shopmesh_common.broker import ConsumerSpec, declare_topology
from shopmesh_common.dead_letters import count_dead_letters, list_dead_letters, replay_dead_letters
from shopmesh_common.testing import STACK_AMQP_URL

pytestmark = pytest.mark.integration

LISTINGS = 25  # more than RabbitMQ 4's default delivery limit of quorum queues (20)


@pytest.fixture
async def parked() -> AsyncIterator[tuple[ConsumerSpec, AbstractChannel, list[str]]]:
    """A consumer's topology with three messages parked in its dead-letter queue."""
    spec = ConsumerSpec(queue=f"test-dead-{uuid.uuid4().hex[:8]}", routing_keys=("x.y",))
    connection = await aio_pika.connect(STACK_AMQP_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        await declare_topology(channel, spec)
        ids = [f"m{n}-{uuid.uuid4().hex[:6]}" for n in range(3)]
        for message_id in ids:
            message = aio_pika.Message(b'{"n": 1}', message_id=message_id, type="x.y")
            await channel.default_exchange.publish(message, routing_key=spec.dead_queue)
        try:
            yield spec, channel, ids
        finally:
            for name in spec.all_queues:
                await channel.queue_delete(name)


async def test_listing_leaves_every_dead_letter_parked_in_order(
    parked: tuple[ConsumerSpec, AbstractChannel, list[str]],
) -> None:
    spec, channel, ids = parked
    for _ in range(LISTINGS):
        letters = await list_dead_letters(STACK_AMQP_URL, spec.queue)
        assert [letter.message_id for letter in letters] == ids
    assert [d.message_id for d in await list_dead_letters(STACK_AMQP_URL, spec.queue, limit=2)] == (
        ids[:2]
    )
    assert await count_dead_letters(STACK_AMQP_URL, spec.queue) == 3
    # Never handed back unacked: the broker has not counted a single redelivery.
    dead = await channel.declare_queue(spec.dead_queue, passive=True)
    message = await dead.get(no_ack=False)
    assert message.message_id == ids[0]
    assert not message.redelivered
    assert (message.headers or {}).get("x-delivery-count", 0) == 0
    await message.reject(requeue=True)


async def test_replaying_one_leaves_the_others_untouched(
    parked: tuple[ConsumerSpec, AbstractChannel, list[str]],
) -> None:
    spec, channel, ids = parked
    assert await replay_dead_letters(STACK_AMQP_URL, spec.queue, message_id=ids[1]) == [ids[1]]
    left = await list_dead_letters(STACK_AMQP_URL, spec.queue)
    assert [letter.message_id for letter in left] == [ids[0], ids[2]]
    queue = await channel.declare_queue(spec.queue, passive=True)
    replayed = await queue.get(no_ack=True)
    assert replayed.message_id == ids[1]
    assert replayed.headers["x-shopmesh-attempt"] == 0
    assert await replay_dead_letters(STACK_AMQP_URL, spec.queue, message_id="nope") == []
    assert await count_dead_letters(STACK_AMQP_URL, spec.queue) == 2
