"""Inventory's settings (environment variables with the prefix SHOPMESH_).

SHOPMESH_RESERVATION_TTL_SECONDS (default 300) is how long a reservation holds stock when
the request does not say; SHOPMESH_SWEEP_SECONDS (default 5) is how often the sweeper
releases expired ones (SHOPMESH_SWEEPER_ENABLED=false turns it off, e.g. in tests that call
`sweep_expired` themselves). Used by `main.create_app` and `seed`.
"""

from __future__ import annotations

from pydantic import Field

from shopmesh_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Inventory's knobs on top of the shared stack settings."""

    service_name: str = "inventory"
    database: str = "inventory"
    reservation_ttl_seconds: int = Field(default=300, ge=1, le=3600)
    sweep_seconds: float = Field(default=5.0, gt=0)
    sweep_batch: int = Field(default=100, ge=1, le=10_000)
    sweeper_enabled: bool = True
