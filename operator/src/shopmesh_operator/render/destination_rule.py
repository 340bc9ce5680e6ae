"""Istio DestinationRule: ISTIO_MUTUAL TLS (unless mTLS is disabled), the load
balancer, connection-pool limits and outlier detection from spec.mesh.circuitBreaker,
and the release-track subsets the VirtualService routes to (stable, and canary for
the Canary strategy).
Used by render/__init__.py."""

from __future__ import annotations

from typing import Any

from shopmesh_operator import constants as c
from shopmesh_operator.models import Microservice
from shopmesh_operator.render.metadata import build_metadata


def service_host(ms: Microservice) -> str:
    return f"{ms.metadata.name}.{ms.metadata.namespace}.svc.cluster.local"


def _tracks(ms: Microservice) -> tuple[str, ...]:
    """The subsets: a canary release routes between stable and canary (traffic.py)."""
    if ms.spec.rollout.strategy == "Canary":
        return (c.TRACK_STABLE, c.TRACK_CANARY)
    return (c.TRACK_STABLE,)


def build_destination_rule(ms: Microservice) -> dict[str, Any]:
    mesh = ms.spec.mesh
    breaker = mesh.circuit_breaker
    http_pool: dict[str, Any] = {"http1MaxPendingRequests": breaker.max_pending_requests}
    if breaker.max_requests_per_connection is not None:
        http_pool["maxRequestsPerConnection"] = breaker.max_requests_per_connection
    pool: dict[str, Any] = {"http": http_pool}
    if breaker.max_connections is not None:
        pool["tcp"] = {"maxConnections": breaker.max_connections}
    policy: dict[str, Any] = {
        "loadBalancer": {"simple": mesh.load_balancer},
        "connectionPool": pool,
        "outlierDetection": {
            "consecutive5xxErrors": breaker.consecutive5xx_errors,
            "interval": breaker.interval,
            "baseEjectionTime": breaker.base_ejection_time,
            "maxEjectionPercent": breaker.max_ejection_percent,
        },
    }
    if mesh.mtls != "DISABLE":
        policy["tls"] = {"mode": "ISTIO_MUTUAL"}
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "DestinationRule",
        "metadata": build_metadata(ms),
        "spec": {
            "host": service_host(ms),
            "trafficPolicy": policy,
            "subsets": [{"name": track, "labels": {c.LABEL_TRACK: track}} for track in _tracks(ms)],
        },
    }
