"""The "my orders" query on the fake read model: who is known, what is listed, in which order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shopmesh_common.events import Event
from shopmesh_order_history.service_layer.projector import Projector
from shopmesh_order_history.service_layer.queries import CustomerUnknownError, customer_orders

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _placed(order_id: str, minutes: int) -> Event:
    return Event(
        event_type="order.placed",
        aggregate_type="order",
        aggregate_id=order_id,
        sequence=1,
        occurred_at=T0 + timedelta(minutes=minutes),
        data={"order_id": order_id, "customer_id": "u-1", "items": [], "status": "PENDING"},
    )


def _failed(order_id: str) -> Event:
    return Event(
        event_type="order.failed",
        aggregate_type="order",
        aggregate_id=order_id,
        sequence=3,
        occurred_at=T0 + timedelta(hours=1),
        data={"order_id": order_id, "customer_id": "u-1", "reason": "out_of_stock"},
    )


USER = Event(
    event_type="user.registered",
    aggregate_type="user",
    aggregate_id="u-1",
    data={"user_id": "u-1", "email": "u1@example.com", "name": "U One"},
)


@pytest.mark.parametrize(
    ("events", "status", "limit", "customer", "order_ids"),
    [
        pytest.param([USER], None, 50, "U One", [], id="customer-without-orders"),
        pytest.param(
            [_placed("o-1", 0), _placed("o-2", 5)],
            None,
            50,
            None,
            ["o-2", "o-1"],
            id="orders-before-customer-newest-first",
        ),
        pytest.param(
            [USER, _placed("o-1", 0), _placed("o-2", 5), _placed("o-3", 1)],
            None,
            2,
            "U One",
            ["o-2", "o-3"],
            id="limit",
        ),
        pytest.param(
            [USER, _placed("o-1", 0), _placed("o-2", 5), _failed("o-1")],
            "FAILED",
            50,
            "U One",
            ["o-1"],
            id="status-filter",
        ),
        pytest.param(
            [_placed("o-1", 0)],
            "CONFIRMED",
            50,
            None,
            [],
            id="filter-matches-nothing-but-customer-is-known-by-orders",
        ),
    ],
)
async def test_customer_orders(
    projector: Projector,
    store: Any,
    events: list[Event],
    status: str | None,
    limit: int,
    customer: str | None,
    order_ids: list[str],
) -> None:
    for event in events:
        await projector.handle(event)
    result = await customer_orders(store, "u-1", status=status, limit=limit)
    assert (result.customer.name if result.customer else None) == customer
    assert [o.order_id for o in result.orders] == order_ids


async def test_unknown_customer(store: Any) -> None:
    with pytest.raises(CustomerUnknownError):
        await customer_orders(store, "nobody", status=None, limit=50)
