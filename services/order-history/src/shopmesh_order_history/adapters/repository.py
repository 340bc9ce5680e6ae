"""The read model on PostgreSQL: customers and order_views, written by events only.

`PostgresReadModel.transaction()` is one event's unit of work (inbox claim + change).
`apply_change` applies the rules of `domain.projection` in SQL, so two consumers applying
events of the same order at once need no read-modify-write:
1. a versioned upsert: `ON CONFLICT ... DO UPDATE ... WHERE order_views.version <
   EXCLUDED.version`, which takes over the state of a newer event and keeps known facts;
2. only when (1) did nothing: a fill-in of the facts the view still lacks (a late
   `order.placed`), which never touches status, reason or version.
Both statements lock the order's row, so concurrent events of one order serialise.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from shopmesh_common import inbox
from shopmesh_common.db import Database
from shopmesh_common.events import Event

from ..domain.model import Applied, Customer, Item, OrderChange, OrderView

_VIEW_COLUMNS = """order_id, customer_id, status, reason, items, total_cents, placed_at,
    updated_at, version"""

_UPSERT_NEWER = f"""
INSERT INTO order_views ({_VIEW_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT (order_id) DO UPDATE SET
    status = EXCLUDED.status,
    reason = EXCLUDED.reason,
    updated_at = EXCLUDED.updated_at,
    version = EXCLUDED.version,
    total_cents = COALESCE(EXCLUDED.total_cents, order_views.total_cents),
    items = COALESCE(order_views.items, EXCLUDED.items),
    placed_at = COALESCE(order_views.placed_at, EXCLUDED.placed_at)
WHERE order_views.version < EXCLUDED.version
RETURNING true"""

_FILL_IN_FACTS = """
UPDATE order_views SET
    items = $2,
    total_cents = COALESCE(total_cents, $3),
    placed_at = COALESCE(placed_at, $4)
WHERE order_id = $1 AND items IS NULL
RETURNING true"""


def _items_json(items: tuple[Item, ...] | None) -> list[dict[str, Any]] | None:
    return None if items is None else [item.as_dict() for item in items]


def _view(row: asyncpg.Record) -> OrderView:
    raw_items = row["items"]
    items = None
    if raw_items is not None:
        items = tuple(
            Item(
                product_id=i["product_id"],
                quantity=i["quantity"],
                unit_price_cents=i.get("unit_price_cents"),
            )
            for i in raw_items
        )
    return OrderView(
        order_id=row["order_id"],
        customer_id=row["customer_id"],
        status=row["status"],
        reason=row["reason"],
        items=items,
        total_cents=row["total_cents"],
        placed_at=row["placed_at"],
        updated_at=row["updated_at"],
        version=row["version"],
    )


class PostgresProjectionTransaction:
    """One event's statements, on one connection inside a transaction."""

    def __init__(self, conn: asyncpg.Connection, service: str) -> None:
        self._conn = conn
        self._service = service

    async def claim(self, event: Event) -> bool:
        """True the first time the read model sees `event` (inbox)."""
        return await inbox.claim(self._conn, self._service, event)

    async def upsert_customer(self, customer: Customer) -> None:
        """Insert or update a customer; older data never overwrites newer."""
        await self._conn.execute(
            """INSERT INTO customers (id, name, email, updated_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (id) DO UPDATE
               SET name = EXCLUDED.name, email = EXCLUDED.email, updated_at = EXCLUDED.updated_at
               WHERE customers.updated_at <= EXCLUDED.updated_at""",
            customer.id,
            customer.name,
            customer.email,
            customer.updated_at,
        )

    async def apply_change(self, change: OrderChange) -> Applied:
        """Apply `change` by the projection rules (see the module docstring)."""
        items = _items_json(change.items)
        newer = await self._conn.fetchval(
            _UPSERT_NEWER,
            change.order_id,
            change.customer_id,
            change.status,
            change.reason,
            items,
            change.total_cents,
            change.placed_at,
            change.occurred_at,
            change.version,
        )
        if newer:
            return Applied.STATE
        if items is None:
            return Applied.STALE
        filled = await self._conn.fetchval(
            _FILL_IN_FACTS, change.order_id, items, change.total_cents, change.placed_at
        )
        return Applied.FILLED if filled else Applied.STALE


class PostgresReadModel:
    """`service_layer.ports.ReadModel` on the service's database."""

    def __init__(self, db: Database, *, service: str) -> None:
        self._db = db
        self._service = service

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresProjectionTransaction]:
        """One event's unit of work."""
        async with self._db.transaction() as conn:
            yield PostgresProjectionTransaction(conn, self._service)

    async def customer(self, customer_id: str) -> Customer | None:
        """The customer, if known."""
        row = await self._db.fetchrow(
            "SELECT id, name, email, updated_at FROM customers WHERE id = $1", customer_id
        )
        if row is None:
            return None
        return Customer(
            id=row["id"], name=row["name"], email=row["email"], updated_at=row["updated_at"]
        )

    async def orders(self, customer_id: str, *, status: str | None, limit: int) -> list[OrderView]:
        """The customer's orders, newest first (by when placed, else when last changed)."""
        rows = await self._db.fetch(
            f"""SELECT {_VIEW_COLUMNS} FROM order_views
                WHERE customer_id = $1 AND ($2::text IS NULL OR status = $2)
                ORDER BY COALESCE(placed_at, updated_at) DESC, order_id DESC
                LIMIT $3""",
            customer_id,
            status,
            limit,
        )
        return [_view(row) for row in rows]

    async def has_orders(self, customer_id: str) -> bool:
        """Whether any order of the customer is known."""
        row = await self._db.fetchrow(
            "SELECT 1 FROM order_views WHERE customer_id = $1 LIMIT 1", customer_id
        )
        return row is not None
