"""Settings of the gateway (environment variables with the SHOPMESH_ prefix).

Used by `main.create_app`. Complex values are JSON in the environment, for example
`SHOPMESH_RATE_LIMITS='{"orders.create": {"per_user": {"limit": 5, "window_seconds": 60}}}'`
(merged over the defaults in domain.rate_limits) or `SHOPMESH_CORS_ORIGINS='["https://shop.example"]'`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator

from shopmesh_common.settings import ServiceSettings

from .domain.rate_limits import DEFAULT_RATE_LIMITS, RoutePolicy


class Settings(ServiceSettings):
    """The gateway's knobs."""

    service_name: str = "gateway"
    database: str = "gateway"

    users_url: str = "http://127.0.0.1:8101"
    orders_url: str = "http://127.0.0.1:8102"
    inventory_url: str = "http://127.0.0.1:8103"
    order_history_url: str = "http://127.0.0.1:8106"
    # Per-attempt timeouts of single routes, by route name, over the route table's own.
    route_timeouts: dict[str, float] = Field(default_factory=dict)
    upstream_retry_attempts: int = Field(default=2, ge=1, le=5)
    upstream_deadline_seconds: float = Field(default=6.0, gt=0)

    # Access tokens: what users issues (see shopmesh_users.settings).
    jwt_issuer: str = "https://shopmesh.local/users"
    jwt_audience: str = "shopmesh"
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["ES256"], min_length=1)
    jwt_leeway_seconds: float = Field(default=30.0, ge=0, le=300)
    jwt_max_bytes: int = Field(default=4096, ge=256)
    jwt_max_header_bytes: int = Field(default=512, ge=64)
    # Verified tokens are remembered until min(exp, now + token_cache_seconds).
    token_cache_size: int = Field(default=10_000, ge=0)
    token_cache_seconds: float = Field(default=60.0, ge=0)
    # The JWKS is refreshed in the background once older than jwks_cache_seconds; a token
    # with an unknown kid refetches it at most once per jwks_refetch_interval_seconds.
    jwks_cache_seconds: float = Field(default=300.0, gt=0)
    jwks_refetch_interval_seconds: float = Field(default=10.0, ge=0)

    rate_limits: dict[str, RoutePolicy] = Field(default_factory=lambda: dict(DEFAULT_RATE_LIMITS))
    rate_limit_on_redis_error: Literal["allow", "deny"] = "allow"
    # Counters are shared by every gateway using this prefix on the same Redis (replicas).
    rate_limit_key_prefix: str = Field(default="shopmesh:gateway:rl", min_length=1)
    rate_limit_timeout_seconds: float = Field(default=0.25, gt=0)
    # After a Redis error, skip Redis this long (the on-error rule applies meanwhile).
    rate_limit_redis_retry_seconds: float = Field(default=1.0, ge=0)

    max_body_bytes: int = Field(default=64 * 1024, ge=1)
    cors_origins: list[str] = Field(default_factory=list)

    gateway_admin_token: SecretStr | None = None
    # A valid API key is remembered this long; a revocation reaches other replicas after it.
    api_key_cache_seconds: float = Field(default=5.0, ge=0)

    # GET /api/users/{id}/orders: keep the last complete answer in Redis to stand in for
    # a side that is down.
    composition_cache: bool = True
    composition_cache_ttl_seconds: int = Field(default=86_400, ge=1)

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any) -> Any:
        """Given policies replace the default ones of the same name; the rest stay."""
        if isinstance(value, dict):
            return {**DEFAULT_RATE_LIMITS, **value}
        return value
