"""The resilience layer every outgoing HTTP call of a ShopMesh service goes through.

Build a ClientFactory once per service (in its lifespan), then call downstreams with
`factory["inventory"].request("GET", "/items/42")`. See client.py for the order of
fallback, retry, circuit breaker, bulkhead and timeout, and why.
"""

from __future__ import annotations

from shopmesh_common.resilience.breaker import (
    BreakerSettings,
    BreakerState,
    CallNotPermitted,
    CircuitBreaker,
)
from shopmesh_common.resilience.bulkhead import Bulkhead, BulkheadFull
from shopmesh_common.resilience.client import ClientFactory, ResilientClient
from shopmesh_common.resilience.fallback import FallbackCache, fallback_key
from shopmesh_common.resilience.response import (
    STALE_HEADER,
    DownstreamResponse,
    DownstreamUnavailable,
)
from shopmesh_common.resilience.retry import (
    RetryPolicy,
    is_retryable_request,
    is_transient,
)
from shopmesh_common.resilience.settings import DownstreamSettings
from shopmesh_common.resilience.tracing import trace_calls

__all__ = [
    "STALE_HEADER",
    "BreakerSettings",
    "BreakerState",
    "Bulkhead",
    "BulkheadFull",
    "CallNotPermitted",
    "CircuitBreaker",
    "ClientFactory",
    "DownstreamResponse",
    "DownstreamSettings",
    "DownstreamUnavailable",
    "FallbackCache",
    "ResilientClient",
    "RetryPolicy",
    "fallback_key",
    "is_retryable_request",
    "is_transient",
    "trace_calls",
]
