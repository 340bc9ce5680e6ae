"""SQL for products and reservations (asyncpg), always inside the caller's transaction.

Locks: `lock_order` serialises every request about one order (a transaction-level advisory
lock, so it works before the reservation row exists: a reserve racing a release of an unknown
order); `lock_products` takes the product rows in id order, the one order every transaction
uses, so two reservations of overlapping products can never deadlock. The sweeper takes
reservation rows with SKIP LOCKED and never waits for one. Used by the service layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from ..domain.reservations import Line, Product, Reservation, ReservationStatus
from ..domain.stock import StockLevel

_RESERVATION_COLUMNS = "order_id, status, items, total_cents, reason, expires_at"
_PRODUCT_COLUMNS = "id, name, price_cents, available, reserved, sold"


def product_from_row(row: asyncpg.Record) -> Product:
    """A domain Product from a products row."""
    return Product(
        id=row["id"],
        name=row["name"],
        price_cents=row["price_cents"],
        stock=StockLevel(row["available"], row["reserved"], row["sold"]),
    )


def reservation_from_row(row: asyncpg.Record) -> Reservation:
    """A domain Reservation from a reservations row."""
    return Reservation(
        order_id=row["order_id"],
        status=ReservationStatus(row["status"]),
        lines=tuple(
            Line(item["product_id"], item["quantity"], item["unit_price_cents"])
            for item in row["items"]
        ),
        total_cents=row["total_cents"],
        reason=row["reason"],
        expires_at=row["expires_at"],
    )


def _items(lines: Sequence[Line]) -> list[dict[str, Any]]:
    return [
        {
            "product_id": line.product_id,
            "quantity": line.quantity,
            "unit_price_cents": line.unit_price_cents,
        }
        for line in lines
    ]


async def lock_order(conn: asyncpg.Connection, order_id: str) -> None:
    """Serialise this transaction with every other one about `order_id`."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('inventory.order:' || $1, 0))", order_id
    )


async def database_now(conn: asyncpg.Connection) -> datetime:
    """The transaction's clock (one clock for every replica)."""
    now: datetime = await conn.fetchval("SELECT now()")
    return now


async def get_reservation(
    conn: asyncpg.Connection, order_id: str, *, lock: bool = False
) -> Reservation | None:
    """The reservation of `order_id`, row-locked when `lock`."""
    row = await conn.fetchrow(
        f"SELECT {_RESERVATION_COLUMNS} FROM reservations WHERE order_id = $1"
        + (" FOR UPDATE" if lock else ""),
        order_id,
    )
    return None if row is None else reservation_from_row(row)


async def insert_reservation(
    conn: asyncpg.Connection,
    *,
    order_id: str,
    status: ReservationStatus,
    lines: Sequence[Line],
    reason: str | None,
    expires_at: datetime | None,
) -> Reservation:
    """Insert a reservation (or a tombstone: RELEASED without lines)."""
    row = await conn.fetchrow(
        f"""INSERT INTO reservations (order_id, status, items, total_cents, reason, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6) RETURNING {_RESERVATION_COLUMNS}""",
        order_id,
        status.value,
        _items(lines),
        sum(line.subtotal_cents for line in lines),
        reason,
        expires_at,
    )
    return reservation_from_row(row)


async def set_status(
    conn: asyncpg.Connection,
    order_ids: Sequence[str],
    *,
    status: ReservationStatus,
    reason: str | None,
) -> list[Reservation]:
    """Move reservations to `status`; `reason` None keeps the stored one."""
    rows = await conn.fetch(
        f"""UPDATE reservations
            SET status = $2, reason = COALESCE($3, reason), updated_at = now()
            WHERE order_id = ANY($1::text[]) RETURNING {_RESERVATION_COLUMNS}""",
        list(order_ids),
        status.value,
        reason,
    )
    return [reservation_from_row(row) for row in rows]


async def lock_due_reservations(conn: asyncpg.Connection, *, limit: int) -> list[Reservation]:
    """Up to `limit` RESERVED reservations past their expiry, locked; busy rows are skipped."""
    rows = await conn.fetch(
        f"""SELECT {_RESERVATION_COLUMNS} FROM reservations
            WHERE status = 'RESERVED' AND expires_at <= now()
            ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED""",
        limit,
    )
    return [reservation_from_row(row) for row in rows]


async def lock_products(conn: asyncpg.Connection, product_ids: Sequence[str]) -> dict[str, Product]:
    """The existing products among `product_ids`, row-locked in id order (no deadlocks)."""
    rows = await conn.fetch(
        f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE id = ANY($1::text[])"
        " ORDER BY id FOR UPDATE",
        sorted(set(product_ids)),
    )
    return {row["id"]: product_from_row(row) for row in rows}


async def write_stock(conn: asyncpg.Connection, levels: Mapping[str, StockLevel]) -> None:
    """Store new stock levels of locked products."""
    ids = sorted(levels)
    await conn.execute(
        """UPDATE products AS p
           SET available = s.available, reserved = s.reserved, sold = s.sold
           FROM unnest($1::text[], $2::int[], $3::int[], $4::int[])
                AS s(id, available, reserved, sold)
           WHERE p.id = s.id""",
        ids,
        [levels[i].available for i in ids],
        [levels[i].reserved for i in ids],
        [levels[i].sold for i in ids],
    )


async def insert_product(
    conn: asyncpg.Connection, *, product_id: str, name: str, price_cents: int, available: int
) -> Product | None:
    """Insert a new product; None when it exists already."""
    row = await conn.fetchrow(
        f"""INSERT INTO products (id, name, price_cents, available, reserved, sold)
            VALUES ($1, $2, $3, $4, 0, 0) ON CONFLICT (id) DO NOTHING
            RETURNING {_PRODUCT_COLUMNS}""",
        product_id,
        name,
        price_cents,
        available,
    )
    return None if row is None else product_from_row(row)


async def update_product(conn: asyncpg.Connection, product: Product) -> Product:
    """Store a locked product's name, price and stock."""
    row = await conn.fetchrow(
        f"""UPDATE products SET name = $2, price_cents = $3,
                available = $4, reserved = $5, sold = $6
            WHERE id = $1 RETURNING {_PRODUCT_COLUMNS}""",
        product.id,
        product.name,
        product.price_cents,
        product.stock.available,
        product.stock.reserved,
        product.stock.sold,
    )
    return product_from_row(row)


async def list_products(conn: asyncpg.Connection) -> list[Product]:
    """Every product, by id."""
    rows = await conn.fetch(f"SELECT {_PRODUCT_COLUMNS} FROM products ORDER BY id")
    return [product_from_row(row) for row in rows]


async def get_product(conn: asyncpg.Connection, product_id: str) -> Product | None:
    """One product."""
    row = await conn.fetchrow(f"SELECT {_PRODUCT_COLUMNS} FROM products WHERE id = $1", product_id)
    return None if row is None else product_from_row(row)
