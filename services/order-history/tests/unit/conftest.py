"""An in-memory fake of order history's read model, built on `domain.projection.merge`."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from shopmesh_common.events import Event
from shopmesh_order_history.domain.model import Applied, Customer, OrderChange, OrderView
from shopmesh_order_history.domain.projection import merge
from shopmesh_order_history.service_layer.projector import Projector


class FakeTransaction:
    def __init__(self, store: FakeReadModel) -> None:
        self.store = store

    async def claim(self, event: Event) -> bool:
        if event.event_id in self.store.inbox:
            self.store.duplicates += 1
            return False
        self.store.inbox.add(event.event_id)
        return True

    async def upsert_customer(self, customer: Customer) -> None:
        known = self.store.customers.get(customer.id)
        if known is None or known.updated_at <= customer.updated_at:
            self.store.customers[customer.id] = customer

    async def apply_change(self, change: OrderChange) -> Applied:
        current = self.store.views.get(change.order_id)
        merged = merge(current, change)
        self.store.applied.append(
            Applied.STALE
            if merged is None
            else Applied.STATE
            if current is None or change.version > current.version
            else Applied.FILLED
        )
        if merged is not None:
            self.store.views[change.order_id] = merged
        return self.store.applied[-1]


class FakeReadModel:
    def __init__(self) -> None:
        self.inbox: set[object] = set()
        self.customers: dict[str, Customer] = {}
        self.views: dict[str, OrderView] = {}
        self.applied: list[Applied] = []
        self.duplicates = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeTransaction]:
        saved = copy.deepcopy((self.inbox, self.customers, self.views))
        try:
            yield FakeTransaction(self)
        except BaseException:
            self.inbox, self.customers, self.views = saved
            raise

    async def customer(self, customer_id: str) -> Customer | None:
        return self.customers.get(customer_id)

    async def orders(self, customer_id: str, *, status: str | None, limit: int) -> list[OrderView]:
        views = [
            v
            for v in self.views.values()
            if v.customer_id == customer_id and status in (None, v.status)
        ]
        views.sort(key=lambda v: (v.placed_at or v.updated_at, v.order_id), reverse=True)
        return views[:limit]

    async def has_orders(self, customer_id: str) -> bool:
        return any(v.customer_id == customer_id for v in self.views.values())


@pytest.fixture
def store() -> FakeReadModel:
    return FakeReadModel()


@pytest.fixture
def projector(store: FakeReadModel) -> Projector:
    return Projector(store=store, service="order-history-unit")
