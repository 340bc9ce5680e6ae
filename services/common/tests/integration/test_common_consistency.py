"""The consistency parts of shopmesh_common on the real stack: idempotency store, outbox
relay (publisher confirms, NOTIFY wake-up, leader lock), inbox, consumer retries and the
dead-letter queue with replay."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import aio_pika
import pytest

from shopmesh_common import inbox
from shopmesh_common.broker import Consumer, ConsumerSpec
from shopmesh_common.db import Database
from shopmesh_common.dead_letters import count_dead_letters, list_dead_letters, replay_dead_letters
from shopmesh_common.events import EXCHANGE, Event
from shopmesh_common.idempotency import IdempotencyStore
from shopmesh_common.outbox import OutboxRelay, add_event
from shopmesh_common.problems import Problem
from shopmesh_common.testing import STACK_AMQP_URL, fresh_database

pytestmark = pytest.mark.integration


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    # The orders migrations carry all three common tables (outbox, inbox-less, keys);
    # inbox comes from notifications' migrations, so build a database with both here.
    async with fresh_database("shopmesh_orders", prefix="common") as url:
        database = Database(url)
        await database.connect()
        async with database.transaction() as conn:
            from shopmesh_common.schema import INBOX_DDL

            await conn.execute(INBOX_DDL)
        yield database
        await database.close()


async def test_idempotency_store_outcomes(db: Database) -> None:
    keys = IdempotencyStore(db, service="test")
    assert await keys.begin(scope="s", key="key-00001", request_hash="h") is None
    with pytest.raises(Problem) as busy:  # the first request has not finished
        await keys.begin(scope="s", key="key-00001", request_hash="h")
    assert busy.value.status == 409
    async with db.transaction() as conn:
        await keys.complete(conn, scope="s", key="key-00001", status=201, body={"id": 7})
    replay = await keys.begin(scope="s", key="key-00001", request_hash="h")
    assert replay is not None
    assert (replay.status, replay.body) == (201, {"id": 7})
    with pytest.raises(Problem) as mismatch:
        await keys.begin(scope="s", key="key-00001", request_hash="other")
    assert mismatch.value.status == 422
    # Another scope is another key space.
    assert await keys.begin(scope="t", key="key-00001", request_hash="other") is None


async def test_released_and_expired_keys_run_again(db: Database) -> None:
    keys = IdempotencyStore(db, service="test")
    assert await keys.begin(scope="s", key="key-00002", request_hash="h") is None
    await keys.release(scope="s", key="key-00002")
    assert await keys.begin(scope="s", key="key-00002", request_hash="h") is None
    async with db.transaction() as conn:
        await keys.complete(conn, scope="s", key="key-00002", status=200, body={})
        await conn.execute("UPDATE idempotency_keys SET expires_at = now() - interval '1 s'")
    assert await keys.begin(scope="s", key="key-00002", request_hash="new body") is None


async def test_concurrent_first_requests_one_wins(db: Database) -> None:
    keys = IdempotencyStore(db, service="test")
    results = await asyncio.gather(
        *(keys.begin(scope="s", key="key-race-1", request_hash="h") for _ in range(10)),
        return_exceptions=True,
    )
    winners = [r for r in results if r is None]
    conflicts = [r for r in results if isinstance(r, Problem) and r.status == 409]
    assert (len(winners), len(conflicts)) == (1, 9)


async def test_relay_publishes_committed_events_only_in_order(db: Database) -> None:
    service = f"t{uuid.uuid4().hex[:6]}"
    connection = await aio_pika.connect(STACK_AMQP_URL)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(exclusive=True)
        await queue.bind(exchange, routing_key=f"{service}.#")
        events = [
            Event(
                event_type=f"{service}.happened", aggregate_type="x", aggregate_id="a", sequence=n
            )
            for n in range(1, 21)
        ]
        for event in events:
            async with db.transaction() as conn:
                await add_event(conn, event, service=service)
        with pytest.raises(RuntimeError):  # a rolled-back event must never leave
            await _add_then_roll_back(db, service)
        relays = [
            OutboxRelay(
                service=service, database_url=db.url, amqp_url=STACK_AMQP_URL, standby_seconds=0.2
            )
            for _ in range(2)
        ]
        tasks = [asyncio.create_task(r.run()) for r in relays]
        try:
            received = []
            async with queue.iterator(timeout=15) as messages:
                async for message in messages:
                    await message.ack()
                    received.append(json.loads(message.body))
                    if len(received) == len(events):
                        break
            assert [m["sequence"] for m in received] == list(range(1, 21))
            assert sum(r.is_leader for r in relays) == 1, "exactly one relay publishes"
            # A new event wakes the leader through NOTIFY, long before the 1 s poll.
            async with db.transaction() as conn:
                await add_event(
                    conn,
                    Event(
                        event_type=f"{service}.late",
                        aggregate_type="x",
                        aggregate_id="a",
                        sequence=21,
                    ),
                    service=service,
                )
            late = await queue.get(timeout=5, fail=False)
            for _ in range(50):
                if late is not None:
                    break
                await asyncio.sleep(0.05)
                late = await queue.get(fail=False)
            assert late is not None
            assert json.loads(late.body)["sequence"] == 21
            assert await queue.get(fail=False) is None, "the rolled-back event was published"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    unsent = await db.fetchrow("SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
    assert unsent is not None
    assert unsent["n"] == 0


async def _add_then_roll_back(db: Database, service: str) -> None:
    async with db.transaction() as conn:
        never = Event(event_type=f"{service}.never", aggregate_type="x", aggregate_id="a")
        await add_event(conn, never, service=service)
        raise RuntimeError("rollback")


async def test_inbox_claims_each_event_once(db: Database) -> None:
    event = Event(event_type="x.y", aggregate_type="x", aggregate_id="1")
    outcomes = []
    for _ in range(3):
        async with db.transaction() as conn:
            outcomes.append(await inbox.claim(conn, "c1", event))
    async with db.transaction() as conn:
        other_consumer = await inbox.claim(conn, "c2", event)
    assert outcomes == [True, False, False]
    assert other_consumer is True


async def test_poison_message_is_retried_then_parked_and_replayable() -> None:
    queue_name = f"test-dlq-{uuid.uuid4().hex[:8]}"
    routing_key = f"{queue_name}.event"
    spec = ConsumerSpec(queue=queue_name, routing_keys=(routing_key,), retry_delays=(0.1, 0.2))
    attempts: list[str] = []
    healed = asyncio.Event()

    async def handler(event: Event) -> None:
        attempts.append(str(event.event_id))
        if event.data.get("poison") and not healed.is_set():
            raise ValueError("cannot handle this one")

    consumer = Consumer(service="test", amqp_url=STACK_AMQP_URL, spec=spec, handler=handler)
    task = asyncio.create_task(consumer.run())
    connection = await aio_pika.connect(STACK_AMQP_URL)
    try:
        await asyncio.wait_for(consumer.ready.wait(), 10)
        async with connection:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(EXCHANGE)
            poison = Event(
                event_type=routing_key, aggregate_type="x", aggregate_id="1", data={"poison": True}
            )
            await exchange.publish(
                aio_pika.Message(
                    poison.model_dump_json().encode(),
                    message_id=str(poison.event_id),
                    type=routing_key,
                ),
                routing_key=routing_key,
            )
            for _ in range(100):
                if await count_dead_letters(STACK_AMQP_URL, queue_name) == 1:
                    break
                await asyncio.sleep(0.1)
            assert len(attempts) == 3, "1 delivery + 2 retries before parking"
            [letter] = await list_dead_letters(STACK_AMQP_URL, queue_name)
            assert letter.message_id == str(poison.event_id)
            assert letter.attempts == 3
            assert "cannot handle this one" in letter.last_error
            healed.set()
            assert await replay_dead_letters(STACK_AMQP_URL, queue_name) == [str(poison.event_id)]
            for _ in range(100):
                if len(attempts) == 4:
                    break
                await asyncio.sleep(0.05)
            assert len(attempts) == 4
            assert await count_dead_letters(STACK_AMQP_URL, queue_name) == 0
            for name in spec.all_queues:
                await channel.queue_delete(name)
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_traceparent_travels_from_outbox_to_consumer(db: Database) -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    tracer = TracerProvider().get_tracer("test")
    service = f"t{uuid.uuid4().hex[:6]}"
    spec = ConsumerSpec(queue=f"test-trace-{service}", routing_keys=(f"{service}.#",))
    seen: list[int] = []

    async def handler(_event: Event) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    consumer = Consumer(service="test", amqp_url=STACK_AMQP_URL, spec=spec, handler=handler)
    relay = OutboxRelay(service=service, database_url=db.url, amqp_url=STACK_AMQP_URL)
    tasks = [asyncio.create_task(consumer.run()), asyncio.create_task(relay.run())]
    try:
        await asyncio.wait_for(consumer.ready.wait(), 10)
        with tracer.start_as_current_span("place order") as span:
            trace_id = span.get_span_context().trace_id
            async with db.transaction() as conn:
                event = Event(event_type=f"{service}.placed", aggregate_type="x", aggregate_id="1")
                await add_event(conn, event, service=service)
        for _ in range(100):
            if seen:
                break
            await asyncio.sleep(0.05)
        assert seen == [trace_id], "the consumer did not continue the producer's trace"
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        connection = await aio_pika.connect(STACK_AMQP_URL)
        async with connection:
            channel = await connection.channel()
            for name in spec.all_queues:
                await channel.queue_delete(name)


async def test_dead_letter_cli_lists_shows_and_replays() -> None:
    from typer.testing import CliRunner

    from shopmesh_common.dead_letters import cli

    queue_name = f"test-cli-{uuid.uuid4().hex[:8]}"
    spec = ConsumerSpec(queue=queue_name, routing_keys=())
    connection = await aio_pika.connect(STACK_AMQP_URL)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        from shopmesh_common.broker import declare_topology

        await declare_topology(channel, spec)
        parked = Event(event_type="x.y", aggregate_type="x", aggregate_id="1")
        await channel.default_exchange.publish(
            aio_pika.Message(
                parked.model_dump_json().encode(),
                message_id=str(parked.event_id),
                type="x.y",
                headers={"x-shopmesh-attempt": 4, "x-shopmesh-last-error": "ValueError: boom"},
            ),
            routing_key=spec.dead_queue,
        )
        runner = CliRunner()
        args = ["--amqp-url", STACK_AMQP_URL]
        listed = await asyncio.to_thread(runner.invoke, cli, ["list", queue_name, *args])
        assert listed.exit_code == 0, listed.output
        assert str(parked.event_id)[:8] in listed.output
        shown = await asyncio.to_thread(
            runner.invoke, cli, ["show", queue_name, str(parked.event_id), *args]
        )
        assert shown.exit_code == 0, shown.output
        assert json.loads(shown.output)["last_error"] == "ValueError: boom"
        missing = await asyncio.to_thread(runner.invoke, cli, ["show", queue_name, "nope", *args])
        assert missing.exit_code == 1
        replayed = await asyncio.to_thread(
            runner.invoke, cli, ["replay", queue_name, "--id", str(parked.event_id), *args]
        )
        assert replayed.exit_code == 0, replayed.output
        assert await count_dead_letters(STACK_AMQP_URL, queue_name) == 0
        main = await channel.declare_queue(queue_name, passive=True)
        assert main.declaration_result.message_count == 1
        for name in spec.all_queues:
            await channel.queue_delete(name)
