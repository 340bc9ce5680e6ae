"""The charge life cycle of one order and what a charge or a refund does in each state.

An order has at most one charge row: DECLINED (the provider said no; another attempt may
follow), CHARGED, REFUNDED (after CHARGED), or REFUND_BEFORE_CHARGE (a tombstone: the
saga refunded an order that had no charge, so a charge arriving later is refused). Used
by the service layer and the unit tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class ChargeStatus(StrEnum):
    """Where an order's charge is."""

    CHARGED = "CHARGED"
    DECLINED = "DECLINED"
    REFUNDED = "REFUNDED"
    REFUND_BEFORE_CHARGE = "REFUND_BEFORE_CHARGE"


class ChargeVerdict(StrEnum):
    """What a new charge request does given the order's charge."""

    ATTEMPT = "attempt"  # ask the provider
    EXISTING = "existing"  # 200 with the charge that exists (made under another key)
    REFUSE = "refuse"  # 409 urn:shopmesh:order-refunded


class RefundVerdict(StrEnum):
    """What a refund does given the order's charge."""

    REFUND = "refund"  # CHARGED -> REFUNDED
    ALREADY = "already"  # answer REFUNDED again
    NOTHING = "nothing"  # answer NONE, keep the row
    TOMBSTONE = "tombstone"  # answer NONE, record REFUND_BEFORE_CHARGE


CHARGE_TABLE: Mapping[ChargeStatus | None, ChargeVerdict] = {
    None: ChargeVerdict.ATTEMPT,
    ChargeStatus.DECLINED: ChargeVerdict.ATTEMPT,
    ChargeStatus.CHARGED: ChargeVerdict.EXISTING,
    ChargeStatus.REFUNDED: ChargeVerdict.REFUSE,
    ChargeStatus.REFUND_BEFORE_CHARGE: ChargeVerdict.REFUSE,
}

REFUND_TABLE: Mapping[ChargeStatus | None, RefundVerdict] = {
    None: RefundVerdict.TOMBSTONE,
    ChargeStatus.DECLINED: RefundVerdict.NOTHING,
    ChargeStatus.CHARGED: RefundVerdict.REFUND,
    ChargeStatus.REFUNDED: RefundVerdict.ALREADY,
    ChargeStatus.REFUND_BEFORE_CHARGE: RefundVerdict.NOTHING,
}

DECLINE_REASON = "insufficient_funds"


@dataclass(frozen=True)
class Charge:
    """An order's charge row."""

    id: UUID
    order_id: str
    customer_id: str | None
    amount_cents: int
    status: ChargeStatus
    decline_reason: str | None
    created_at: datetime
    updated_at: datetime


def decide_charge(status: ChargeStatus | None) -> ChargeVerdict:
    """What a charge request for an order in `status` does."""
    return CHARGE_TABLE[status]


def decide_refund(status: ChargeStatus | None) -> RefundVerdict:
    """What a refund of an order in `status` does."""
    return REFUND_TABLE[status]


def refund_answer(status: ChargeStatus) -> str:
    """The `status` a refund answers once it is done: REFUNDED, or NONE (nothing to give back)."""
    return "REFUNDED" if status is ChargeStatus.REFUNDED else "NONE"
