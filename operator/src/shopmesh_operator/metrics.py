"""The operator's own Prometheus metrics, served when SHOPMESH_METRICS_PORT is set.

`shopmesh_operator_api_requests_total{verb}` counts every call apply.py makes, so
"idle means idle" can be checked from outside (the benchmark reads it);
reconcile passes and child changes are counted by outcome and by kind; releases by how
they ended (`shopmesh_rollout_releases_total{namespace,name,outcome}`: Released,
RolledBack, RolloutUndone, Aborted), so an alert can fire on a rollback; a canary's steps,
analysis results and aborts by reason (`shopmesh_rollout_events_total`, the same reasons
as its Events) and its current weight (`shopmesh_rollout_canary_weight`).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

API_REQUESTS = Counter(
    "shopmesh_operator_api_requests", "Kubernetes API calls made by the operator", ["verb"]
)
RECONCILES = Counter(
    "shopmesh_operator_reconciles", "Reconcile passes of one Microservice", ["result"]
)
RECONCILE_SECONDS = Histogram(
    "shopmesh_operator_reconcile_seconds", "Duration of one reconcile pass"
)
CHILD_CHANGES = Counter(
    "shopmesh_operator_child_changes",
    "Children created, updated, repaired or deleted",
    ["kind", "action"],
)


def serve(port: int) -> None:
    start_http_server(port, addr="0.0.0.0")


RELEASES = Counter(
    "shopmesh_rollout_releases",
    "Releases of a Microservice by outcome (Released, RolledBack, RolloutUndone)",
    ["namespace", "name", "outcome"],
)
RELEASE_EVENTS = Counter(
    "shopmesh_rollout_events",
    "Release steps, weight changes, analysis results and aborts, by Event reason",
    ["namespace", "name", "reason"],
)
CANARY_WEIGHT = Gauge(
    "shopmesh_rollout_canary_weight",
    "The percentage of traffic a Microservice's canary is given (0: no canary)",
    ["namespace", "name"],
)
