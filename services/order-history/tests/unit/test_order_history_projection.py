"""The projection rules: any arrival order of an order's events gives the right view.

Rows list events by name in arrival order and the view expected at the end; they run
through the real `Projector` and `domain.projection.merge` on an in-memory store.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from shopmesh_common.events import Event
from shopmesh_order_history.domain.model import Item
from shopmesh_order_history.domain.projection import change_from_event
from shopmesh_order_history.service_layer.projector import Projector

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
ITEMS = [{"product_id": "p-1", "quantity": 2, "unit_price_cents": 1250}]


def _order(event_type: str, sequence: int, minutes: int, **data: Any) -> Event:
    return Event(
        event_type=event_type,
        aggregate_type="order",
        aggregate_id="o-1",
        sequence=sequence,
        occurred_at=T0 + timedelta(minutes=minutes),
        data={"order_id": "o-1", "customer_id": "u-1", **data},
    )


EVENTS = {
    "placed": _order("order.placed", 1, 0, items=ITEMS, total_cents=2500, status="PENDING"),
    "placed-unpriced": _order(
        "order.placed", 1, 0, items=[{"product_id": "p-1", "quantity": 2}], total_cents=None
    ),
    "placed-again": _order("order.placed", 1, 0, items=[], total_cents=1),  # new id, old news
    "confirmed": _order("order.confirmed", 4, 2, total_cents=2500, status="CONFIRMED"),
    "failed": _order("order.failed", 4, 2, reason="out_of_stock", status="FAILED"),
    "failed-later": _order("order.failed", 5, 3, reason="payment_declined", status="FAILED"),
}

FULL_ITEMS = (Item(product_id="p-1", quantity=2, unit_price_cents=1250),)


@pytest.mark.parametrize(
    ("arrivals", "expected", "applied"),
    [
        pytest.param(
            ["placed"],
            {"status": "PENDING", "items": FULL_ITEMS, "total_cents": 2500, "version": 1},
            ["state"],
            id="placed-only",
        ),
        pytest.param(
            ["placed", "confirmed"],
            {"status": "CONFIRMED", "items": FULL_ITEMS, "version": 4, "updated_at": 2},
            ["state", "state"],
            id="in-order-confirmed",
        ),
        pytest.param(
            ["confirmed", "placed"],
            {"status": "CONFIRMED", "items": FULL_ITEMS, "placed_at": 0, "updated_at": 2},
            ["state", "filled"],
            id="confirmed-before-placed-keeps-status-fills-items",
        ),
        pytest.param(
            ["confirmed"],
            {"status": "CONFIRMED", "items": None, "placed_at": None, "total_cents": 2500},
            ["state"],
            id="confirmed-alone-creates-what-it-knows",
        ),
        pytest.param(
            ["failed", "placed"],
            {"status": "FAILED", "reason": "out_of_stock", "items": FULL_ITEMS, "version": 4},
            ["state", "filled"],
            id="failed-before-placed",
        ),
        pytest.param(
            ["placed", "failed"],
            {"status": "FAILED", "reason": "out_of_stock", "total_cents": 2500},
            ["state", "state"],
            id="in-order-failed-keeps-total",
        ),
        pytest.param(
            ["placed-unpriced", "confirmed"],
            {"status": "CONFIRMED", "total_cents": 2500},
            ["state", "state"],
            id="total-from-confirmed",
        ),
        pytest.param(
            ["confirmed", "placed-unpriced"],
            {"status": "CONFIRMED", "total_cents": 2500, "version": 4},
            ["state", "filled"],
            id="late-unpriced-placed-keeps-total",
        ),
        pytest.param(
            ["failed-later", "confirmed"],
            {"status": "FAILED", "reason": "payment_declined", "version": 5},
            ["state", "stale"],
            id="older-terminal-event-dropped",
        ),
        pytest.param(
            ["placed", "confirmed", "placed-again"],
            {"status": "CONFIRMED", "items": FULL_ITEMS, "total_cents": 2500},
            ["state", "state", "stale"],
            id="old-placed-with-new-id-changes-nothing",
        ),
        pytest.param(
            ["confirmed", "confirmed", "placed", "placed"],
            {"status": "CONFIRMED", "items": FULL_ITEMS, "version": 4},
            ["state", "filled"],
            id="duplicates-never-reach-the-view",
        ),
    ],
)
async def test_arrival_orders(
    projector: Projector,
    store: Any,
    arrivals: list[str],
    expected: dict[str, Any],
    applied: list[str],
) -> None:
    for name in arrivals:
        await projector.handle(EVENTS[name])
    view = store.views["o-1"]
    for field, value in expected.items():
        if field in ("placed_at", "updated_at") and value is not None:
            value = T0 + timedelta(minutes=value)
        assert getattr(view, field) == value, field
    assert [a.value for a in store.applied] == applied
    assert store.duplicates == len(arrivals) - len(applied)


@pytest.mark.parametrize(
    ("event", "fields"),
    [
        pytest.param(
            EVENTS["placed"],
            {"status": "PENDING", "items": FULL_ITEMS, "placed_at": T0, "reason": None},
            id="placed",
        ),
        pytest.param(
            EVENTS["failed"],
            {"status": "FAILED", "reason": "out_of_stock", "items": None, "total_cents": None},
            id="failed",
        ),
        pytest.param(
            _order("order.confirmed", 2, 1),
            {"status": "CONFIRMED", "total_cents": None, "version": 2},
            id="confirmed-defaults",
        ),
    ],
)
def test_change_from_event(event: Event, fields: dict[str, Any]) -> None:
    change = change_from_event(event)
    assert change.order_id == "o-1"
    assert change.customer_id == "u-1"
    for field, value in fields.items():
        assert getattr(change, field) == value, field


@pytest.mark.parametrize(
    ("event", "error"),
    [
        pytest.param(_order("order.shipped", 9, 0), ValueError, id="unknown-order-event"),
        pytest.param(
            _order("order.placed", 1, 0, items=[{"quantity": 1}]),
            ValidationError,
            id="item-without-product",
        ),
        pytest.param(
            _order("order.placed", 1, 0, items=ITEMS, total_cents=-1),
            ValidationError,
            id="negative-total",
        ),
    ],
)
def test_change_from_bad_event(event: Event, error: type[Exception]) -> None:
    with pytest.raises(error):
        change_from_event(event)


@pytest.mark.parametrize(
    ("arrivals", "expected_name"),
    [
        pytest.param(["Old", "New"], "New", id="in-order"),
        pytest.param(["New", "Old"], "New", id="older-registration-does-not-overwrite"),
    ],
)
async def test_customers(
    projector: Projector, store: Any, arrivals: list[str], expected_name: str
) -> None:
    minutes = {"Old": 0, "New": 5}
    for name in arrivals:
        await projector.handle(
            Event(
                event_type="user.registered",
                aggregate_type="user",
                aggregate_id="u-1",
                occurred_at=T0 + timedelta(minutes=minutes[name]),
                data={"user_id": "u-1", "email": f"{name.lower()}@example.com", "name": name},
            )
        )
    assert store.customers["u-1"].name == expected_name


async def test_unknown_event_types_are_ignored(projector: Projector, store: Any) -> None:
    await projector.handle(_order("payment.charged", 1, 0))
    assert store.views == {}
    assert store.inbox == set()
