"""Response models of `GET /users/{id}/orders` (`api.routes`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from ..domain.model import Customer, OrderView
from ..service_layer.queries import CustomerOrders


class CustomerOut(BaseModel):
    """The customer, as registered."""

    id: str
    name: str
    email: str

    @classmethod
    def of(cls, customer: Customer) -> CustomerOut:
        """The public view of a customer."""
        return cls(id=customer.id, name=customer.name, email=customer.email)


class ItemOut(BaseModel):
    """One order line (`unit_price_cents` is null until inventory priced it)."""

    product_id: str
    quantity: int
    unit_price_cents: int | None


class OrderOut(BaseModel):
    """One order. `items` and `placed_at` are null while `order.placed` has not arrived."""

    id: str
    status: str
    reason: str | None
    items: list[ItemOut] | None
    total_cents: int | None
    placed_at: datetime | None
    updated_at: datetime

    @classmethod
    def of(cls, view: OrderView) -> OrderOut:
        """The public view of an order."""
        items = None
        if view.items is not None:
            items = [
                ItemOut(
                    product_id=i.product_id,
                    quantity=i.quantity,
                    unit_price_cents=i.unit_price_cents,
                )
                for i in view.items
            ]
        return cls(
            id=view.order_id,
            status=view.status,
            reason=view.reason,
            items=items,
            total_cents=view.total_cents,
            placed_at=view.placed_at,
            updated_at=view.updated_at,
        )


class CustomerOrdersOut(BaseModel):
    """The customer (null until `user.registered` arrived) and their orders, newest first."""

    customer: CustomerOut | None
    orders: list[OrderOut]

    @classmethod
    def of(cls, result: CustomerOrders) -> CustomerOrdersOut:
        """The public view of a query result."""
        customer = None if result.customer is None else CustomerOut.of(result.customer)
        return cls(customer=customer, orders=[OrderOut.of(o) for o in result.orders])
