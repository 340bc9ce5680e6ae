"""The reservation life cycle: RESERVED -> COMMITTED, RESERVED or COMMITTED -> RELEASED.

Releasing a COMMITTED reservation puts its sold units back on the shelf: it is the saga's
compensation when orders gave up on a commit whose answer was lost (the commit happened,
orders never heard, refunded the charge and released), so stock follows the money.

`decide` is the transition table for commit / release / expire (the saga's calls and the
sweeper); `decide_reserve` judges a reserve for an order that may already have a
reservation (idempotent repeat, different items, or a released tombstone);
`plan_reservation` prices the lines and reserves the stock all-or-nothing; `move_stock`
applies a commit or release to the locked stock levels. Used by the service layer.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .stock import OutOfStock, StockLevel


class ReservationStatus(StrEnum):
    """Where a reservation is: holding stock, sold, or given back (final)."""

    RESERVED = "RESERVED"
    COMMITTED = "COMMITTED"
    RELEASED = "RELEASED"


class Action(StrEnum):
    """What can happen to an existing reservation."""

    COMMIT = "commit"
    RELEASE = "release"
    EXPIRE = "expire"


class Verdict(StrEnum):
    """What the service layer does for an action on a reservation in some state."""

    APPLY = "apply"  # change the status and move the stock
    ALREADY = "already"  # an idempotent repeat: answer with the current state
    REFUSE = "refuse"  # 409: the reservation went the other way
    MISSING = "missing"  # 404: no such reservation
    TOMBSTONE = "tombstone"  # record a RELEASED row without items: a late reserve is refused


class ReserveVerdict(StrEnum):
    """What a reserve does when the order may already have a reservation."""

    NEW = "new"  # 201: reserve the stock
    REPLAY = "replay"  # 200: the same items were reserved already
    MISMATCH = "mismatch"  # 409: the order was reserved with other items
    RELEASED = "released"  # 409: released, expired or tombstoned


# (current status, action) -> verdict; None is "no reservation for this order".
TRANSITIONS: Mapping[tuple[ReservationStatus | None, Action], Verdict] = {
    (None, Action.COMMIT): Verdict.MISSING,
    (ReservationStatus.RESERVED, Action.COMMIT): Verdict.APPLY,
    (ReservationStatus.COMMITTED, Action.COMMIT): Verdict.ALREADY,
    (ReservationStatus.RELEASED, Action.COMMIT): Verdict.REFUSE,
    (None, Action.RELEASE): Verdict.TOMBSTONE,
    (ReservationStatus.RESERVED, Action.RELEASE): Verdict.APPLY,
    (ReservationStatus.COMMITTED, Action.RELEASE): Verdict.APPLY,
    (ReservationStatus.RELEASED, Action.RELEASE): Verdict.ALREADY,
    (None, Action.EXPIRE): Verdict.MISSING,
    (ReservationStatus.RESERVED, Action.EXPIRE): Verdict.APPLY,
    (ReservationStatus.COMMITTED, Action.EXPIRE): Verdict.ALREADY,
    (ReservationStatus.RELEASED, Action.EXPIRE): Verdict.ALREADY,
}

TARGET: Mapping[Action, ReservationStatus] = {
    Action.COMMIT: ReservationStatus.COMMITTED,
    Action.RELEASE: ReservationStatus.RELEASED,
    Action.EXPIRE: ReservationStatus.RELEASED,
}

REASONS: Mapping[Action, str | None] = {
    Action.COMMIT: None,
    Action.RELEASE: "released",
    Action.EXPIRE: "expired",
}
TOMBSTONE_REASON = "released-before-reserve"


@dataclass(frozen=True)
class Line:
    """One product of a reservation, priced when it was reserved."""

    product_id: str
    quantity: int
    unit_price_cents: int

    @property
    def subtotal_cents(self) -> int:
        """What this line costs."""
        return self.quantity * self.unit_price_cents


@dataclass(frozen=True)
class Product:
    """A product as the domain sees it: price and stock."""

    id: str
    name: str
    price_cents: int
    stock: StockLevel


@dataclass(frozen=True)
class Reservation:
    """Stock held (or sold, or given back) for one order."""

    order_id: str
    status: ReservationStatus
    lines: tuple[Line, ...]
    total_cents: int
    reason: str | None
    expires_at: datetime | None

    def is_due(self, now: datetime) -> bool:
        """True when it still holds stock but its time ran out."""
        return (
            self.status is ReservationStatus.RESERVED
            and self.expires_at is not None
            and self.expires_at <= now
        )


@dataclass(frozen=True)
class UnknownProducts(Exception):
    """Products a reserve asked for that do not exist."""

    product_ids: tuple[str, ...]

    def __str__(self) -> str:
        return "unknown product(s): " + ", ".join(repr(p) for p in self.product_ids)


@dataclass(frozen=True)
class Plan:
    """What a new reservation holds and the stock levels after it."""

    lines: tuple[Line, ...]
    levels: Mapping[str, StockLevel]

    @property
    def total_cents(self) -> int:
        """The sum of the lines."""
        return sum(line.subtotal_cents for line in self.lines)


Requested = Sequence[tuple[str, int]]  # (product_id, quantity), product ids unique


def decide(status: ReservationStatus | None, action: Action) -> Verdict:
    """The transition table, as a function."""
    return TRANSITIONS[(status, action)]


def same_items(lines: Iterable[Line], requested: Requested) -> bool:
    """True when a stored reservation holds exactly the requested products and quantities."""
    stored = Counter((line.product_id, line.quantity) for line in lines)
    return stored == Counter((product_id, quantity) for product_id, quantity in requested)


def decide_reserve(existing: Reservation | None, requested: Requested) -> ReserveVerdict:
    """Judge a reserve for an order: new, an idempotent repeat, or refused."""
    if existing is None:
        return ReserveVerdict.NEW
    if existing.status is ReservationStatus.RELEASED:
        return ReserveVerdict.RELEASED
    if same_items(existing.lines, requested):
        return ReserveVerdict.REPLAY
    return ReserveVerdict.MISMATCH


def plan_reservation(products: Mapping[str, Product], requested: Requested) -> Plan:
    """Price the lines and reserve their stock: every line or none (raises otherwise).

    Raises UnknownProducts (all the missing ids) before OutOfStock (the first short line),
    so a client learns about a typo before it learns about stock.
    """
    unknown = tuple(product_id for product_id, _ in requested if product_id not in products)
    if unknown:
        raise UnknownProducts(unknown)
    levels: dict[str, StockLevel] = {}
    lines = []
    for product_id, quantity in requested:
        product = products[product_id]
        level = levels.get(product_id, product.stock)
        if quantity > level.available:
            raise OutOfStock(product_id, quantity, level.available)
        levels[product_id] = level.reserve(quantity)
        lines.append(Line(product_id, quantity, product.price_cents))
    return Plan(tuple(lines), levels)


def move_stock(
    levels: Mapping[str, StockLevel],
    lines: Iterable[Line],
    action: Action,
    *,
    sold: bool = False,
) -> dict[str, StockLevel]:
    """The stock levels after committing (sold) or releasing/expiring (available) `lines`;
    `sold` lines (a COMMITTED reservation being released) go from sold back to available."""
    moved = dict(levels)
    for line in lines:
        level = moved[line.product_id]
        if action is Action.COMMIT:
            moved[line.product_id] = level.commit(line.quantity)
        elif sold:
            moved[line.product_id] = level.unsell(line.quantity)
        else:
            moved[line.product_id] = level.release(line.quantity)
    return moved
