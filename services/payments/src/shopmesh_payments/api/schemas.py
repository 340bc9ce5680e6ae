"""Payments' request and response bodies (pydantic), the HTTP contract in services/README.md.

Requests are strict (no "100" for 100, no unknown fields) and bounded. `FaultsIn` is a
partial update: a knob left out keeps its current value. Used by api.routes and the tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ..domain.charges import Charge, ChargeStatus
from ..domain.faults import MAX_LATENCY_MS, Faults

ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"

OrderId = Annotated[str, Field(pattern=ORDER_ID_PATTERN, min_length=1, max_length=128)]
Rate = Annotated[float, Field(ge=0.0, le=1.0)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ChargeIn(_Request):
    """`POST /charges` (with an Idempotency-Key header)."""

    order_id: OrderId
    customer_id: str = Field(min_length=1, max_length=128, pattern=r"^\S+$")
    amount_cents: int = Field(ge=1, le=100_000_000)


class FaultsIn(_Request):
    """`PUT /admin/faults`: the knobs to change."""

    decline_rate: Rate | None = None
    error_rate: Rate | None = None
    hang_rate: Rate | None = None
    latency_ms: int | None = Field(default=None, ge=0, le=MAX_LATENCY_MS)

    def apply_to(self, faults: Faults) -> Faults:
        """`faults` with the given knobs changed."""
        changes = self.model_dump(exclude_none=True)
        return Faults(**{**FaultsOut.of(faults).model_dump(), **changes})


class FaultsOut(BaseModel):
    """The provider's knobs in force."""

    decline_rate: float
    error_rate: float
    hang_rate: float
    latency_ms: int

    @classmethod
    def of(cls, faults: Faults) -> FaultsOut:
        """From the domain."""
        return cls(
            decline_rate=faults.decline_rate,
            error_rate=faults.error_rate,
            hang_rate=faults.hang_rate,
            latency_ms=faults.latency_ms,
        )


class ChargeOut(BaseModel):
    """An order's charge (`GET /charges/{order_id}`)."""

    id: str
    order_id: str
    customer_id: str | None
    amount_cents: int
    status: ChargeStatus
    decline_reason: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, charge: Charge) -> ChargeOut:
        """From the domain."""
        return cls(
            id=str(charge.id),
            order_id=charge.order_id,
            customer_id=charge.customer_id,
            amount_cents=charge.amount_cents,
            status=charge.status,
            decline_reason=charge.decline_reason,
            created_at=charge.created_at,
            updated_at=charge.updated_at,
        )


class RefundOut(BaseModel):
    """A refund's answer: REFUNDED, or NONE when there was no money to give back."""

    order_id: str
    status: str
