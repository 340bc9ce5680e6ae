"""Notifications' settings (environment variables with the SHOPMESH_ prefix).

Used by `main.create_app`. Retry delays may be given as JSON (`[1, 5, 30]`) or as a
comma-separated list (`1,5,30`) in SHOPMESH_RETRY_DELAYS.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic_settings import NoDecode

from shopmesh_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Where mail goes, which queue is consumed and how patiently."""

    service_name: str = "notifications"
    database: str = "notifications"
    queue: str = Field("notifications", min_length=1, max_length=200)
    retry_delays: Annotated[tuple[float, ...], NoDecode] = (1.0, 5.0, 30.0)
    prefetch: int = Field(32, ge=1, le=1000)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(12525, ge=1, le=65535)
    smtp_timeout_seconds: float = Field(10.0, gt=0)  # a whole send, all commands
    mail_from: str = "ShopMesh <no-reply@shopmesh.local>"
    # A pending email older than this is re-sent by the sweeper (a crash after commit).
    sweep_after_seconds: float = Field(30.0, ge=0)
    sweep_interval_seconds: float = Field(5.0, gt=0)
    sweeper_enabled: bool = True
    # How long one sender owns a pending email; longer than an SMTP attempt can take, so
    # the sweeper never sends a message that a handler is still sending.
    send_lease_seconds: float = Field(60.0, gt=0)

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

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> Settings:
        if self.send_lease_seconds <= self.smtp_timeout_seconds:
            raise ValueError("send_lease_seconds must be longer than smtp_timeout_seconds")
        return self
