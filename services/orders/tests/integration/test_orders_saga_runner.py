"""The saga runner on the real PostgreSQL with scripted participants: what it persists after
every step, the events it leaves in the outbox, lease-based recovery, and the trace a
resumed saga continues."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from shopmesh_common.db import Database
from shopmesh_common.idempotency import IdempotencyStore
from shopmesh_common.testing import fresh_database
from shopmesh_orders.adapters import repository
from shopmesh_orders.domain.model import Order, OrderLine
from shopmesh_orders.domain.saga import Outcome, Step, StepResult
from shopmesh_orders.service_layer.placing import place_order
from shopmesh_orders.service_layer.saga_runner import SagaRunner
from shopmesh_orders.settings import Settings

pytestmark = pytest.mark.integration


class ScriptedParticipants:
    """Answers each step from a script; records the calls and the trace they ran in."""

    def __init__(self, script: dict[Step, list[Outcome]] | None = None) -> None:
        self.script = script or {}
        self.calls: list[Step] = []
        self.trace_ids: list[int] = []

    async def call(self, step: Step, order: Order) -> tuple[StepResult, Order]:
        self.calls.append(step)
        self.trace_ids.append(trace.get_current_span().get_span_context().trace_id)
        answers = self.script.get(step, [])
        outcome = answers.pop(0) if answers else Outcome.OK
        reason = {Step.CHARGE: "payment_declined"}.get(step) if outcome is Outcome.REFUSED else None
        if step is Step.RESERVE and outcome is Outcome.OK:
            items = tuple(OrderLine(i.product_id, i.quantity, 250) for i in order.items)
            order = Order(order.id, order.customer_id, items, order.saga, total_cents=500)
        return StepResult(outcome, reason), order


@pytest.fixture
async def db() -> AsyncIterator[Database]:
    async with fresh_database("shopmesh_orders", prefix="orders") as url:
        database = Database(url)
        await database.connect()
        yield database
        await database.close()


def settings(**overrides: object) -> Settings:
    base: dict[str, object] = {
        "step_timeout_seconds": 5.0,
        "retry_backoff_seconds": 0.01,
        "lease_seconds": 1.0,
        "recovery_interval_seconds": 0.1,
    }
    return Settings(**{**base, **overrides})  # type: ignore[arg-type]


async def place(db: Database, runner: SagaRunner, key: str = "key-000001") -> str:
    placed = await place_order(
        db=db,
        keys=IdempotencyStore(db, service="orders"),
        runner=runner,
        customer_id="c1",
        items=[OrderLine("p1", 2)],
        idempotency_key=key,
        service="orders",
        step_timeout=timedelta(seconds=5),
        lease=timedelta(seconds=1),
    )
    return str(placed.body["id"])


async def finished(db: Database, order_id: str) -> Order:
    for _ in range(200):
        async with db.connection() as conn:
            order = await repository.get(conn, uuid.UUID(order_id))
        if order is not None and order.saga.terminal:
            return order
        await asyncio.sleep(0.05)
    raise AssertionError(f"order {order_id} did not finish")


@pytest.mark.parametrize(
    ("script", "status", "reason", "calls", "events"),
    [
        (
            {},
            "CONFIRMED",
            None,
            ["reserve", "charge", "commit"],
            ["order.placed", "order.confirmed"],
        ),
        (
            {Step.CHARGE: [Outcome.REFUSED]},
            "FAILED",
            "payment_declined",
            ["reserve", "charge", "release"],
            ["order.placed", "order.failed"],
        ),
        (
            {Step.CHARGE: [Outcome.UNCERTAIN, Outcome.UNCERTAIN]},
            "CONFIRMED",
            None,
            ["reserve", "charge", "charge", "charge", "commit"],
            ["order.placed", "order.confirmed"],
        ),
    ],
)
async def test_runner_persists_every_step_and_its_events(
    db: Database,
    script: dict[Step, list[Outcome]],
    status: str,
    reason: str | None,
    calls: list[str],
    events: list[str],
) -> None:
    participants = ScriptedParticipants(script)
    runner = SagaRunner(db=db, participants=participants, settings=settings())
    order_id = await place(db, runner)
    order = await finished(db, order_id)
    assert (order.status.value, order.saga.reason) == (status, reason)
    assert [c.value for c in participants.calls] == calls
    async with db.connection() as conn:
        log = await repository.steps(conn, uuid.UUID(order_id))
        outbox = await conn.fetch(
            "SELECT event_type, payload FROM outbox WHERE aggregate_id = $1 ORDER BY id", order_id
        )
    # One log line per transition, versions without gaps.
    assert [row["version"] for row in log] == list(range(2, 2 + len(log)))
    assert [row["event_type"] for row in outbox] == events
    sequences = [row["payload"]["sequence"] for row in outbox]
    assert sequences == sorted(sequences)
    assert order.total_cents == 500


async def test_recovery_resumes_a_dead_runners_saga_in_the_original_trace(db: Database) -> None:
    tracer = TracerProvider().get_tracer("test")
    dead = ScriptedParticipants({Step.RESERVE: [Outcome.UNCERTAIN] * 1000})
    dead_runner = SagaRunner(db=db, participants=dead, settings=settings())
    with tracer.start_as_current_span("POST /orders") as span:
        trace_id = span.get_span_context().trace_id
        order_id = await place(db, dead_runner)
    await asyncio.sleep(0.2)
    await dead_runner.stop()  # the process "dies"; its lease runs out

    survivor = ScriptedParticipants()
    runner = SagaRunner(db=db, participants=survivor, settings=settings())
    recovery = asyncio.create_task(runner.recover())
    try:
        order = await finished(db, order_id)
    finally:
        recovery.cancel()
        await asyncio.gather(recovery, return_exceptions=True)
        await runner.stop()
    assert order.status.value == "CONFIRMED"
    assert survivor.calls[0] is Step.RESERVE
    assert set(survivor.trace_ids) == {trace_id}, "the resumed saga left the order's trace"
