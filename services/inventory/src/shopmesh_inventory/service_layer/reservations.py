"""Reserve, commit, release and read reservations: one transaction (unit of work) each.

Every use case first takes the order's advisory lock and its row lock, then settles a
reservation whose time ran out (releases it as 'expired', stock back) so the answer never
depends on whether the sweeper has run yet; that settling commits even when the request
is then refused. Product rows are locked in id order. Used by api.routes and the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import asyncpg

from shopmesh_common.db import Database
from shopmesh_common.problems import Problem

from ..adapters import repository as repo
from ..domain.reservations import (
    REASONS,
    TARGET,
    TOMBSTONE_REASON,
    Action,
    Requested,
    Reservation,
    ReservationStatus,
    ReserveVerdict,
    UnknownProducts,
    Verdict,
    decide,
    decide_reserve,
    move_stock,
    plan_reservation,
)
from ..domain.stock import OutOfStock, StockLevel
from ..metrics import Outcome, count


@dataclass(frozen=True)
class Reserved:
    """A reserve's answer: the reservation and whether this request created it."""

    reservation: Reservation
    created: bool


async def apply_action(
    conn: asyncpg.Connection, reservations: list[Reservation], action: Action
) -> list[Reservation]:
    """Commit, release or expire locked reservations: move their stock, set status."""
    if not reservations:
        return []
    lines = [line for reservation in reservations for line in reservation.lines]
    products = await repo.lock_products(conn, [line.product_id for line in lines])
    levels: dict[str, StockLevel] = {pid: p.stock for pid, p in products.items()}
    for reservation in reservations:
        sold = reservation.status is ReservationStatus.COMMITTED
        levels = move_stock(levels, reservation.lines, action, sold=sold)
    await repo.write_stock(conn, levels)
    return await repo.set_status(
        conn,
        [reservation.order_id for reservation in reservations],
        status=TARGET[action],
        reason=REASONS[action],
    )


async def _lock_and_settle(conn: asyncpg.Connection, order_id: str) -> Reservation | None:
    """Lock the order, and release its reservation now if its time ran out."""
    await repo.lock_order(conn, order_id)
    current = await repo.get_reservation(conn, order_id, lock=True)
    if current is not None and current.is_due(await repo.database_now(conn)):
        (current,) = await apply_action(conn, [current], Action.EXPIRE)
        count(Outcome.EXPIRED)
    return current


async def reserve(db: Database, *, order_id: str, requested: Requested, ttl: timedelta) -> Reserved:
    """Hold stock for every requested line, or for none (409 / 422 otherwise)."""
    refusal: Problem | None = None
    reservation: Reservation | None = None
    async with db.transaction() as conn:
        existing = await _lock_and_settle(conn, order_id)
        verdict = decide_reserve(existing, requested)
        if existing is not None and verdict is ReserveVerdict.REPLAY:
            return Reserved(existing, created=False)
        if verdict is ReserveVerdict.MISMATCH:
            refusal = Problem(
                409,
                f"order {order_id!r} already holds a reservation with different items",
                type_="reservation-mismatch",
            )
        elif existing is not None and verdict is ReserveVerdict.RELEASED:
            refusal = Problem(
                409,
                f"the reservation of order {order_id!r} was released ({existing.reason})",
                type_="reservation-released",
                reason=existing.reason,
            )
        else:
            reservation = await _reserve_new(conn, order_id=order_id, requested=requested, ttl=ttl)
    if refusal is not None:  # raised after the block: an expiry settled above stays committed
        raise refusal
    assert reservation is not None
    count(Outcome.RESERVED)
    return Reserved(reservation, created=True)


async def _reserve_new(
    conn: asyncpg.Connection, *, order_id: str, requested: Requested, ttl: timedelta
) -> Reservation:
    products = await repo.lock_products(conn, [product_id for product_id, _ in requested])
    try:
        plan = plan_reservation(products, requested)
    except UnknownProducts as exc:
        raise Problem(
            422, str(exc), type_="unknown-product", product_ids=list(exc.product_ids)
        ) from exc
    except OutOfStock as exc:
        count(Outcome.OUT_OF_STOCK)
        raise Problem(
            409,
            str(exc),
            type_="out-of-stock",
            product_id=exc.product_id,
            requested=exc.requested,
            available=exc.available,
        ) from exc
    await repo.write_stock(conn, plan.levels)
    return await repo.insert_reservation(
        conn,
        order_id=order_id,
        status=ReservationStatus.RESERVED,
        lines=plan.lines,
        reason=None,
        expires_at=await repo.database_now(conn) + ttl,
    )


async def change(db: Database, *, order_id: str, action: Action) -> Reservation:
    """Commit or release the reservation of `order_id` (idempotent; 404 / 409 otherwise)."""
    refusal: Problem | None = None
    async with db.transaction() as conn:
        current = await _lock_and_settle(conn, order_id)
        verdict = decide(current.status if current else None, action)
        if current is not None and verdict is Verdict.APPLY:
            (current,) = await apply_action(conn, [current], action)
            count(Outcome.COMMITTED if action is Action.COMMIT else Outcome.RELEASED)
        elif verdict is Verdict.TOMBSTONE:
            current = await repo.insert_reservation(
                conn,
                order_id=order_id,
                status=ReservationStatus.RELEASED,
                lines=(),
                reason=TOMBSTONE_REASON,
                expires_at=None,
            )
        elif current is None or verdict is Verdict.MISSING:
            refusal = Problem(
                404, f"no reservation for order {order_id!r}", type_="reservation-not-found"
            )
        elif verdict is Verdict.REFUSE:
            refusal = Problem(
                409,
                f"cannot {action.value} the reservation of order {order_id!r}: "
                f"it is {current.status.value}"
                + (f" ({current.reason})" if current.reason else ""),
                type_=f"reservation-{current.status.value.lower()}",
                reservation_status=current.status.value,
                reason=current.reason,
            )
    if refusal is not None:
        raise refusal
    assert current is not None
    return current


async def get(db: Database, *, order_id: str) -> Reservation:
    """The reservation of `order_id` as it stands now (an overdue one is settled first)."""
    async with db.transaction() as conn:
        current = await _lock_and_settle(conn, order_id)
    if current is None:
        raise Problem(404, f"no reservation for order {order_id!r}", type_="reservation-not-found")
    return current
