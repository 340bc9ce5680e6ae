"""Stock levels of one product: the arithmetic that keeps its total constant.

A product's units are `available` (can be reserved), `reserved` (held for an order that is
not finished) or `sold` (committed). Reserve, release and commit move units between those
buckets and never change their sum; only a restock (`POST /admin/products`) does. Used by
`reservations.move_stock` and the service layer.
"""

from __future__ import annotations

from dataclasses import dataclass


class StockError(ValueError):
    """A move that would make a bucket negative."""


@dataclass(frozen=True)
class OutOfStock(Exception):
    """Not enough units available for a reservation line."""

    product_id: str
    requested: int
    available: int

    def __str__(self) -> str:
        return (
            f"product {self.product_id!r} is out of stock: "
            f"requested {self.requested}, available {self.available}"
        )


@dataclass(frozen=True)
class StockLevel:
    """The three buckets of one product; every method returns a new level."""

    available: int
    reserved: int = 0
    sold: int = 0

    def __post_init__(self) -> None:
        if min(self.available, self.reserved, self.sold) < 0:
            raise StockError(f"stock buckets cannot be negative: {self}")

    @property
    def total(self) -> int:
        """Every unit the shop owns of this product: the invariant of reserve/release/commit."""
        return self.available + self.reserved + self.sold

    def reserve(self, quantity: int) -> StockLevel:
        """Hold `quantity` available units for an order (raises StockError if too few)."""
        _check_quantity(quantity)
        if quantity > self.available:
            raise StockError(f"cannot reserve {quantity}: only {self.available} available")
        return StockLevel(self.available - quantity, self.reserved + quantity, self.sold)

    def release(self, quantity: int) -> StockLevel:
        """Give `quantity` reserved units back (order failed or reservation expired)."""
        _check_quantity(quantity)
        if quantity > self.reserved:
            raise StockError(f"cannot release {quantity}: only {self.reserved} reserved")
        return StockLevel(self.available + quantity, self.reserved - quantity, self.sold)

    def commit(self, quantity: int) -> StockLevel:
        """Turn `quantity` reserved units into sold ones (order paid)."""
        _check_quantity(quantity)
        if quantity > self.reserved:
            raise StockError(f"cannot commit {quantity}: only {self.reserved} reserved")
        return StockLevel(self.available, self.reserved - quantity, self.sold + quantity)

    def unsell(self, quantity: int) -> StockLevel:
        """Put `quantity` sold units back on the shelf (a confirmed sale compensated)."""
        _check_quantity(quantity)
        if quantity > self.sold:
            raise StockError(f"cannot unsell {quantity}: only {self.sold} sold")
        return StockLevel(self.available + quantity, self.reserved, self.sold - quantity)

    def restock(self, available: int) -> StockLevel:
        """Set the available units (admin upsert); reserved and sold stay as they are."""
        return StockLevel(available, self.reserved, self.sold)


def _check_quantity(quantity: int) -> None:
    if quantity <= 0:
        raise StockError(f"quantity must be positive, got {quantity}")
