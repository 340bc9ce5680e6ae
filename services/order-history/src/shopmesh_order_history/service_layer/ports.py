"""What the service layer needs from storage, as Protocols.

`adapters.repository.PostgresReadModel` implements them on PostgreSQL; the unit tests use
an in-memory fake built on `domain.projection.merge`.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from shopmesh_common.events import Event

from ..domain.model import Applied, Customer, OrderChange, OrderView

__all__ = ["Applied", "ProjectionTransaction", "ReadModel"]


class ProjectionTransaction(Protocol):
    """The statements one event's unit of work runs (all commit together)."""

    async def claim(self, event: Event) -> bool:
        """True the first time the read model sees `event` (inbox)."""
        ...

    async def upsert_customer(self, customer: Customer) -> None:
        """Insert or update a customer (never with older data)."""
        ...

    async def apply_change(self, change: OrderChange) -> Applied:
        """Apply `change` to its order's view by the rules of `domain.projection`."""
        ...


class ReadModel(Protocol):
    """The read model's storage."""

    def transaction(self) -> AbstractAsyncContextManager[ProjectionTransaction]:
        """A unit of work: commits when the block ends, rolls back on an exception."""
        ...

    async def customer(self, customer_id: str) -> Customer | None:
        """The customer, if `user.registered` arrived."""
        ...

    async def orders(self, customer_id: str, *, status: str | None, limit: int) -> list[OrderView]:
        """The customer's orders, newest first, optionally of one status."""
        ...

    async def has_orders(self, customer_id: str) -> bool:
        """Whether any order of the customer is known."""
        ...
