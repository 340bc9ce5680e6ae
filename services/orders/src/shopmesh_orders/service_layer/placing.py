"""Taking an order: `place_order` under an Idempotency-Key, then the saga starts.

The order row, its `order.placed` event (outbox) and the key's stored response commit in
one transaction; a retry with the same key and body gets the first 202 back (the same order
id) instead of a second order. The key is scoped per customer, so two customers' keys never
collide.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import Counter

from shopmesh_common.db import Database
from shopmesh_common.idempotency import IdempotencyStore, hash_request
from shopmesh_common.outbox import add_event

from ..adapters import repository
from ..domain.model import Order, OrderLine, placed_event
from ..domain.saga import start
from .saga_runner import SagaRunner

ORDERS_PLACED = Counter(
    "shopmesh_orders_placed_total",
    "Orders created by POST /orders (answers replayed for a repeated Idempotency-Key excluded)",
    ["service"],
)


@dataclass(frozen=True)
class Placed:
    """The answer to POST /orders (fresh or replayed)."""

    status: int
    body: Any
    replayed: bool


async def place_order(
    *,
    db: Database,
    keys: IdempotencyStore,
    runner: SagaRunner,
    customer_id: str,
    items: list[OrderLine],
    idempotency_key: str,
    service: str,
    step_timeout: timedelta,
    lease: timedelta,
) -> Placed:
    """Create the order (or replay the first answer for this key) and start its saga."""
    scope = f"orders:{customer_id}"
    request_hash = hash_request([line.as_dict() for line in items])
    replay = await keys.begin(scope=scope, key=idempotency_key, request_hash=request_hash)
    if replay is not None:
        return Placed(status=replay.status, body=replay.body, replayed=True)
    order = Order(
        id=uuid.uuid4(),
        customer_id=customer_id,
        items=tuple(items),
        saga=start(datetime.now(UTC), step_timeout),
    )
    body = {"id": str(order.id), "status": order.status.value}
    try:
        async with db.transaction() as conn:
            await repository.insert(conn, order, lease=lease)
            await add_event(conn, placed_event(order), service=service)
            await keys.complete(conn, scope=scope, key=idempotency_key, status=202, body=body)
    except BaseException:
        await keys.release(scope=scope, key=idempotency_key)
        raise
    ORDERS_PLACED.labels(service).inc()
    runner.start(order.id)
    return Placed(status=202, body=body, replayed=False)
