"""SQL for charges (asyncpg), always inside the caller's transaction.

`lock_order` (a transaction-level advisory lock) serialises every write about one order,
even before its charge row exists, so a refund racing a charge of the same order is
decided one after the other. Used by the service layer.
"""

from __future__ import annotations

import asyncpg

from ..domain.charges import Charge, ChargeStatus

_COLUMNS = "id, order_id, customer_id, amount_cents, status, decline_reason, created_at, updated_at"


def charge_from_row(row: asyncpg.Record) -> Charge:
    """A domain Charge from a charges row."""
    return Charge(
        id=row["id"],
        order_id=row["order_id"],
        customer_id=row["customer_id"],
        amount_cents=row["amount_cents"],
        status=ChargeStatus(row["status"]),
        decline_reason=row["decline_reason"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


async def lock_order(conn: asyncpg.Connection, order_id: str) -> None:
    """Serialise this transaction with every other one about `order_id`."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('payments.order:' || $1, 0))", order_id
    )


async def get_charge(
    conn: asyncpg.Connection, order_id: str, *, lock: bool = False
) -> Charge | None:
    """The charge of `order_id`, row-locked when `lock`."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM charges WHERE order_id = $1" + (" FOR UPDATE" if lock else ""),
        order_id,
    )
    return None if row is None else charge_from_row(row)


async def record_attempt(
    conn: asyncpg.Connection,
    *,
    order_id: str,
    customer_id: str,
    amount_cents: int,
    status: ChargeStatus,
    decline_reason: str | None,
) -> Charge:
    """Record a provider answer: a new row, or over an earlier DECLINED one (same id)."""
    row = await conn.fetchrow(
        f"""INSERT INTO charges (order_id, customer_id, amount_cents, status, decline_reason)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (order_id) DO UPDATE
              SET customer_id = EXCLUDED.customer_id, amount_cents = EXCLUDED.amount_cents,
                  status = EXCLUDED.status, decline_reason = EXCLUDED.decline_reason,
                  updated_at = now()
              WHERE charges.status = 'DECLINED'
            RETURNING {_COLUMNS}""",
        order_id,
        customer_id,
        amount_cents,
        status.value,
        decline_reason,
    )
    if row is None:  # the caller holds the order lock and checked the state: cannot happen
        raise RuntimeError(f"order {order_id!r} has a final charge already")
    return charge_from_row(row)


async def set_status(conn: asyncpg.Connection, order_id: str, status: ChargeStatus) -> Charge:
    """Move the order's charge to `status`."""
    row = await conn.fetchrow(
        f"""UPDATE charges SET status = $2, updated_at = now()
            WHERE order_id = $1 RETURNING {_COLUMNS}""",
        order_id,
        status.value,
    )
    return charge_from_row(row)


async def insert_tombstone(conn: asyncpg.Connection, order_id: str) -> Charge:
    """Record that the order was refunded before any charge: a later charge is refused."""
    row = await conn.fetchrow(
        f"""INSERT INTO charges (order_id, customer_id, amount_cents, status)
            VALUES ($1, NULL, 0, 'REFUND_BEFORE_CHARGE') RETURNING {_COLUMNS}""",
        order_id,
    )
    return charge_from_row(row)
