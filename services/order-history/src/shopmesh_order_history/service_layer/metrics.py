"""Order history's Prometheus metrics (label `service` first, like every ShopMesh metric)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_APPLIED = Counter(
    "shopmesh_read_model_events_total",
    "Events the read model processed (duplicates excluded), by type",
    ["service", "event_type"],
)
LAG = Histogram(
    "shopmesh_read_model_lag_seconds",
    "Time from an event's occurrence to its application to the read model",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
