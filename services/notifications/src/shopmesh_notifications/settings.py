"""Notifications' settings (environment variables with the SHOPMESH_ prefix).

Used by `main.create_app`. The queue, retry delays and prefetch come from
`shopmesh_common.consumers.ConsumerSettings`; this adds where mail goes and how the
pending-email sweeper and the send lease behave.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from shopmesh_common.consumers import ConsumerSettings, QueueName


class Settings(ConsumerSettings):
    """Where mail goes, which queue is consumed and how patiently."""

    service_name: str = "notifications"
    database: str = "notifications"
    queue: QueueName = "notifications"
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

    @model_validator(mode="after")
    def _lease_outlasts_an_attempt(self) -> Settings:
        if self.send_lease_seconds <= self.smtp_timeout_seconds:
            raise ValueError("send_lease_seconds must be longer than smtp_timeout_seconds")
        return self
