"""SQL for orders: the order row (with its saga state), the step log, and saga leases.

Leases make recovery safe with several orders replicas: a runner owns a saga while
`lease_until` is in the future and renews it on every step; `claim_stale` hands out sagas
whose owner stopped renewing (crashed, `kill -9`) with FOR UPDATE SKIP LOCKED, so two
replicas never run the same saga at once.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import asyncpg
from opentelemetry import propagate

from ..domain.model import Order, OrderLine
from ..domain.saga import SagaState, Status, Step

_COLUMNS = """id, customer_id, status, reason, items, total_cents, compensations,
              step_deadline, version"""


def _order(row: asyncpg.Record) -> Order:
    saga = SagaState(
        status=Status(row["status"]),
        step_deadline=row["step_deadline"],
        compensations=tuple(Step(s) for s in row["compensations"]),
        reason=row["reason"],
        version=row["version"],
    )
    items = tuple(
        OrderLine(i["product_id"], i["quantity"], i.get("unit_price_cents")) for i in row["items"]
    )
    return Order(
        id=row["id"],
        customer_id=row["customer_id"],
        items=items,
        saga=saga,
        total_cents=row["total_cents"],
    )


async def insert(conn: asyncpg.Connection, order: Order, *, lease: timedelta) -> None:
    """Store a new order, leased to the runner that is about to start its saga, with the
    W3C trace context it was placed in (a saga resumed after a crash continues that trace)."""
    trace_context: dict[str, str] = {}
    propagate.inject(trace_context)
    await conn.execute(
        """INSERT INTO orders (id, customer_id, status, reason, items, total_cents,
                               compensations, step_deadline, version, lease_until,
                               trace_context)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now() + $10::interval, $11)""",
        order.id,
        order.customer_id,
        order.status.value,
        order.saga.reason,
        [line.as_dict() for line in order.items],
        order.total_cents,
        [s.value for s in order.saga.compensations],
        order.saga.step_deadline,
        order.saga.version,
        lease,
        trace_context,
    )


async def trace_context(conn: asyncpg.Connection, order_id: uuid.UUID) -> dict[str, str]:
    """The W3C headers of the request that placed the order ({} if none)."""
    value = await conn.fetchval("SELECT trace_context FROM orders WHERE id = $1", order_id)
    return dict(value or {})


async def get(conn: asyncpg.Connection, order_id: uuid.UUID) -> Order | None:
    """The order, or None."""
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM orders WHERE id = $1", order_id)
    return _order(row) if row else None


async def save_transition(
    conn: asyncpg.Connection,
    order: Order,
    *,
    step: Step,
    outcome: str,
    detail: str | None,
    lease: timedelta,
) -> bool:
    """Persist `order`'s new saga state if the stored version is the one before it.

    Returns False when another runner moved the saga meanwhile (its lease was taken over):
    the caller then stops, and the newer owner carries on.
    """
    result: str = await conn.execute(
        """UPDATE orders SET status = $2, reason = $3, items = $4, total_cents = $5,
                  compensations = $6, step_deadline = $7, version = $8,
                  lease_until = now() + $9::interval, updated_at = now()
           WHERE id = $1 AND version = $8 - 1""",
        order.id,
        order.status.value,
        order.saga.reason,
        [line.as_dict() for line in order.items],
        order.total_cents,
        [s.value for s in order.saga.compensations],
        order.saga.step_deadline,
        order.saga.version,
        lease,
    )
    if result.endswith(" 0"):
        return False
    await conn.execute(
        """INSERT INTO saga_steps (order_id, version, step, outcome, detail)
           VALUES ($1, $2, $3, $4, $5)""",
        order.id,
        order.saga.version,
        step.value,
        outcome,
        detail,
    )
    return True


async def renew_lease(conn: asyncpg.Connection, order_id: uuid.UUID, lease: timedelta) -> None:
    """Keep owning a saga that is waiting between retries."""
    await conn.execute(
        "UPDATE orders SET lease_until = now() + $2::interval WHERE id = $1", order_id, lease
    )


async def claim_stale(conn: asyncpg.Connection, *, lease: timedelta, limit: int) -> list[uuid.UUID]:
    """Take over unfinished sagas whose lease ran out (their runner is gone)."""
    rows = await conn.fetch(
        """UPDATE orders SET lease_until = now() + $1::interval
           WHERE id IN (SELECT id FROM orders
                        WHERE status NOT IN ('CONFIRMED', 'FAILED') AND lease_until < now()
                        ORDER BY lease_until LIMIT $2 FOR UPDATE SKIP LOCKED)
           RETURNING id""",
        lease,
        limit,
    )
    return [row["id"] for row in rows]


async def steps(conn: asyncpg.Connection, order_id: uuid.UUID) -> list[dict[str, Any]]:
    """The saga's step log, oldest first (why an order failed)."""
    rows = await conn.fetch(
        """SELECT version, step, outcome, detail, at FROM saga_steps
           WHERE order_id = $1 ORDER BY version""",
        order_id,
    )
    return [dict(row) for row in rows]
