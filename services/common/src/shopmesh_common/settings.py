"""Service settings from the environment, shared by every service.

The variables are the stack's contract (`ci/stack/stack.sh env` prints them):
SHOPMESH_POSTGRES_URL (server, no database), SHOPMESH_REDIS_URL, SHOPMESH_AMQP_URL.
Each service subclasses `ServiceSettings` for its own knobs and names its database.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    """What every service needs to reach the stack."""

    model_config = SettingsConfigDict(env_prefix="SHOPMESH_", extra="ignore")

    service_name: str = "service"
    postgres_url: str = "postgresql://shopmesh:shopmesh@127.0.0.1:15432"
    database: str = ""
    redis_url: str = "redis://127.0.0.1:16379/0"
    amqp_url: str = "amqp://shopmesh:shopmesh@127.0.0.1:16672/"
    db_pool_size: int = 10
    run_migrations: bool = True
    relay_enabled: bool = True
    consumers_enabled: bool = True
    # How long a starting service waits for its database to accept connections: in one
    # `helm install` with bundled servers the services may start before PostgreSQL.
    startup_wait_seconds: float = Field(default=90, ge=0)

    @property
    def database_url(self) -> str:
        """The URL of this service's own database."""
        return f"{self.postgres_url.rstrip('/')}/{self.database or self.service_name}"
