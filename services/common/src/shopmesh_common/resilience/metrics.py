"""Prometheus metrics of outgoing calls, shared by every ShopMesh service.

The names and labels are a contract: dashboards and alerts read them for all services
alike. Registered once, in the default registry, when this module is first imported.

- `shopmesh_breaker_state{service, downstream}`: 0 closed, 1 open, 2 half-open.
- `shopmesh_downstream_requests_total{service, downstream, outcome}`, one per attempt,
  as the breaker judged it (`success`, `failure`; a 4xx is a success: the caller's
  fault), `rejected` when the breaker or the bulkhead refused the attempt, and one
  `fallback` per call answered from the stale cache.
- `shopmesh_downstream_request_duration_seconds{service, downstream}`: attempts that
  reached the network, whatever their outcome.

Used by client.py, through `DownstreamMetrics`: the labelled children of one downstream,
looked up once (prometheus_client's `labels()` takes a lock and builds a key per call).
"""

from __future__ import annotations

from typing import Any, Literal

from prometheus_client import Counter, Gauge, Histogram

from shopmesh_common.resilience.breaker import BreakerState, TransitionListener

Outcome = Literal["success", "failure", "rejected", "fallback"]

BREAKER_STATE_VALUES = {
    BreakerState.CLOSED: 0,
    BreakerState.OPEN: 1,
    BreakerState.HALF_OPEN: 2,
}

BREAKER_STATE = Gauge(
    "shopmesh_breaker_state",
    "Circuit breaker state per downstream: 0 closed, 1 open, 2 half-open",
    ["service", "downstream"],
)
DOWNSTREAM_REQUESTS = Counter(
    "shopmesh_downstream_requests",
    "Attempts to call a downstream by outcome, and calls answered from the fallback cache",
    ["service", "downstream", "outcome"],
)
DOWNSTREAM_REQUEST_SECONDS = Histogram(
    "shopmesh_downstream_request_duration_seconds",
    "Duration of one attempt to call a downstream",
    ["service", "downstream"],
)


def set_breaker_state(service: str, downstream: str, state: BreakerState) -> None:
    BREAKER_STATE.labels(service, downstream).set(BREAKER_STATE_VALUES[state])


def export_breaker_state(service: str, downstream: str) -> TransitionListener:
    """A breaker listener that keeps `shopmesh_breaker_state` up to date."""

    def listener(_old: BreakerState, new: BreakerState) -> None:
        set_breaker_state(service, downstream, new)

    return listener


class DownstreamMetrics:
    """The metrics of one downstream, each labelled child looked up once, on first use
    (so /metrics shows the same series as before any optimisation: only those used)."""

    def __init__(self, service: str, downstream: str) -> None:
        self._service = service
        self._downstream = downstream
        self._requests: dict[str, Any] = {}
        self._seconds: Any = None

    def count(self, outcome: Outcome) -> None:
        child = self._requests.get(outcome)
        if child is None:
            child = DOWNSTREAM_REQUESTS.labels(self._service, self._downstream, outcome)
            self._requests[outcome] = child
        child.inc()

    def observe(self, seconds: float) -> None:
        if self._seconds is None:
            self._seconds = DOWNSTREAM_REQUEST_SECONDS.labels(self._service, self._downstream)
        self._seconds.observe(seconds)
