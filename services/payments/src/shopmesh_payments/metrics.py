"""Payments' business metrics (Prometheus), counted by the service layer."""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import Counter

SERVICE = "payments"

CHARGES = Counter(
    "shopmesh_payments_charges_total",
    "Charge attempts and refunds by outcome (charged, declined, provider_error, refunded)",
    ["service", "outcome"],
)


class Outcome(StrEnum):
    """The `outcome` label values."""

    CHARGED = "charged"
    DECLINED = "declined"
    PROVIDER_ERROR = "provider_error"
    REFUNDED = "refunded"


def count(outcome: Outcome) -> None:
    """Count one charge or refund that ended in `outcome`."""
    CHARGES.labels(SERVICE, outcome.value).inc()
