"""Orders' settings (environment variables with the SHOPMESH_ prefix)."""

from __future__ import annotations

from shopmesh_common.settings import ServiceSettings


class Settings(ServiceSettings):
    """Where the participants are and how patient the saga is."""

    service_name: str = "orders"
    database: str = "orders"
    inventory_url: str = "http://127.0.0.1:8103"
    payments_url: str = "http://127.0.0.1:8104"
    call_timeout_seconds: float = 2.0  # one HTTP attempt
    step_timeout_seconds: float = 10.0  # a forward step's deadline, retries included
    retry_backoff_seconds: float = 0.2  # first pause between saga retries (doubles, capped)
    retry_backoff_max_seconds: float = 5.0
    lease_seconds: float = 15.0  # how long a runner owns a saga before another may take it
    recovery_interval_seconds: float = 2.0  # how often unfinished sagas are looked for
    max_concurrent_sagas: int = 200
