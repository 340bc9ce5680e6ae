"""The order as orders keeps it, and the events it publishes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from shopmesh_common.events import Event

from .saga import SagaState, Status


@dataclass(frozen=True)
class OrderLine:
    """One requested product; priced by inventory when it is reserved."""

    product_id: str
    quantity: int
    unit_price_cents: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored and published."""
        line: dict[str, Any] = {"product_id": self.product_id, "quantity": self.quantity}
        if self.unit_price_cents is not None:
            line["unit_price_cents"] = self.unit_price_cents
        return line


@dataclass(frozen=True)
class Order:
    """An order and its saga state."""

    id: uuid.UUID
    customer_id: str
    items: tuple[OrderLine, ...]
    saga: SagaState
    total_cents: int | None = None

    @property
    def status(self) -> Status:
        """The saga's status is the order's status."""
        return self.saga.status


def placed_event(order: Order) -> Event:
    """`order.placed`, published with the order's creation."""
    return Event(
        event_type="order.placed",
        aggregate_type="order",
        aggregate_id=str(order.id),
        sequence=order.saga.version,
        data={
            "order_id": str(order.id),
            "customer_id": order.customer_id,
            "items": [line.as_dict() for line in order.items],
            "total_cents": order.total_cents,
            "status": order.status.value,
        },
    )


def outcome_event(order: Order) -> Event | None:
    """`order.confirmed` or `order.failed` when the saga just ended, else None."""
    if order.status is Status.CONFIRMED:
        event_type = "order.confirmed"
        extra: dict[str, Any] = {"total_cents": order.total_cents}
    elif order.status is Status.FAILED:
        event_type, extra = "order.failed", {"reason": order.saga.reason}
    else:
        return None
    return Event(
        event_type=event_type,
        aggregate_type="order",
        aggregate_id=str(order.id),
        sequence=order.saga.version,
        data={
            "order_id": str(order.id),
            "customer_id": order.customer_id,
            "status": order.status.value,
            **extra,
        },
    )
