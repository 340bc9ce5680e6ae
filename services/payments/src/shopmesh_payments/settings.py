"""Payments' settings (environment variables with the prefix SHOPMESH_).

The provider's fault knobs are the README's SHOPMESH_PAYMENTS_DECLINE_RATE,
SHOPMESH_PAYMENTS_ERROR_RATE, SHOPMESH_PAYMENTS_HANG_RATE (rates 0..1) and
SHOPMESH_PAYMENTS_LATENCY_MS (0..60000); they are the start values, `PUT /admin/faults`
changes them at run time. SHOPMESH_HANG_SECONDS (default 30) is how long a "hung" charge
holds its answer; SHOPMESH_PROVIDER_SEED makes the rolls repeatable (tests);
SHOPMESH_IDEMPOTENCY_LEASE_SECONDS (default 90, longer than the largest latency) is how
long a retry with the same key is told "in progress" before it may take over.
"""

from __future__ import annotations

from pydantic import Field

from shopmesh_common.settings import ServiceSettings

from .domain.faults import MAX_LATENCY_MS, Faults


class Settings(ServiceSettings):
    """Payments' knobs on top of the shared stack settings."""

    service_name: str = "payments"
    database: str = "payments"
    payments_decline_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    payments_error_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    payments_hang_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    payments_latency_ms: int = Field(default=0, ge=0, le=MAX_LATENCY_MS)
    hang_seconds: float = Field(default=30.0, ge=0.0)
    provider_seed: int | None = None
    idempotency_lease_seconds: float = Field(default=90.0, gt=0.0)

    def faults(self) -> Faults:
        """The provider's fault knobs at start-up."""
        return Faults(
            decline_rate=self.payments_decline_rate,
            error_rate=self.payments_error_rate,
            hang_rate=self.payments_hang_rate,
            latency_ms=self.payments_latency_ms,
        )
