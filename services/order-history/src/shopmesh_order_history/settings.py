"""Order history's settings (environment variables with the SHOPMESH_ prefix).

Used by `main.create_app`. Retry delays may be given as JSON (`[1, 5, 30]`) or as a
comma-separated list (`1,5,30`) in SHOPMESH_RETRY_DELAYS.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from shopmesh_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Which queue feeds the read model and how patiently failures are retried."""

    service_name: str = "order-history"
    database: str = "order_history"
    queue: str = Field("order-history", min_length=1, max_length=200)
    retry_delays: Annotated[tuple[float, ...], NoDecode] = (1.0, 5.0, 30.0)
    prefetch: int = Field(32, ge=1, le=1000)

    @field_validator("retry_delays", mode="before")
    @classmethod
    def _parse_delays(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().strip("[]")
            return tuple(float(part) for part in text.split(",") if part.strip())
        return value

    @field_validator("retry_delays")
    @classmethod
    def _positive_delays(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay <= 0 for delay in value):
            raise ValueError("retry delays must be positive")
        return value
