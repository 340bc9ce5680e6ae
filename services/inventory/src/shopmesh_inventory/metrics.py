"""Inventory's business metrics (Prometheus), counted by the service layer after a commit."""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import Counter

SERVICE = "inventory"

RESERVATIONS = Counter(
    "shopmesh_inventory_reservations_total",
    "Reservation changes by outcome (reserved, out_of_stock, released, committed, expired)",
    ["service", "outcome"],
)


class Outcome(StrEnum):
    """The `outcome` label values."""

    RESERVED = "reserved"
    OUT_OF_STOCK = "out_of_stock"
    RELEASED = "released"
    COMMITTED = "committed"
    EXPIRED = "expired"


def count(outcome: Outcome, amount: int = 1) -> None:
    """Count `amount` reservations that ended in `outcome`."""
    if amount:
        RESERVATIONS.labels(SERVICE, outcome.value).inc(amount)
