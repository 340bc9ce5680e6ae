"""How to call one downstream: timeout, retries, deadline, breaker, bulkhead and stale
fallback, as one frozen value. Each service builds one per downstream from its own
configuration and hands them to client.ClientFactory.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shopmesh_common.resilience.breaker import BreakerSettings
from shopmesh_common.resilience.retry import RetryPolicy


@dataclass(frozen=True, kw_only=True)
class DownstreamSettings:
    """How to call one downstream. Times in seconds; `timeout_seconds` bounds one
    attempt, `deadline_seconds` the whole call with its retries."""

    name: str
    base_url: str
    timeout_seconds: float = 2.0
    retry_attempts: int = 3
    backoff_base_seconds: float = 0.1
    backoff_max_seconds: float = 2.0
    deadline_seconds: float = 5.0
    breaker: BreakerSettings = field(default_factory=BreakerSettings)
    bulkhead_max_concurrent: int = 50
    bulkhead_max_wait_seconds: float = 0.0
    cache_fallback: bool = False
    cache_ttl_seconds: int = 300

    def __post_init__(self) -> None:
        if self.timeout_seconds <= 0 or self.cache_ttl_seconds < 1:
            raise ValueError("timeout_seconds must be > 0 and cache_ttl_seconds >= 1")
        self.retry_policy  # noqa: B018  (validates the retry settings)

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.retry_attempts,
            backoff_base_seconds=self.backoff_base_seconds,
            backoff_max_seconds=self.backoff_max_seconds,
            deadline_seconds=self.deadline_seconds,
        )
