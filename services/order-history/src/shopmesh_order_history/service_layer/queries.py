"""The "my orders" query: a customer and their orders, straight from the read model.

Used by `api.routes`. No joins across databases and no calls to other services: what the
read model has not seen yet is simply not shown (eventual consistency).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..domain.model import Customer, OrderView
from .ports import ReadModel


class CustomerUnknownError(Exception):
    """Neither the customer nor any of their orders is known to the read model."""


@dataclass(frozen=True)
class CustomerOrders:
    """The answer of `GET /users/{id}/orders`."""

    customer: Customer | None
    orders: list[OrderView]


async def customer_orders(
    store: ReadModel, customer_id: str, *, status: str | None, limit: int
) -> CustomerOrders:
    """The customer (None until `user.registered` arrived) and their orders, newest first."""
    customer = await store.customer(customer_id)
    orders = await store.orders(customer_id, status=status, limit=limit)
    if customer is None and not orders and not await store.has_orders(customer_id):
        raise CustomerUnknownError(customer_id)
    return CustomerOrders(customer=customer, orders=orders)
