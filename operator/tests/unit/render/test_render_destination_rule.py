"""Table tests for `render.destination_rule`: the service's FQDN as host,
ISTIO_MUTUAL client TLS unless mTLS is disabled, the load balancer, the
connection-pool limits (optional ones only when set), outlier detection from
spec.mesh.circuitBreaker, and the stable subset."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.render import build_destination_rule

from .microservices import make_microservice

OUTLIERS = {"consecutive5xxErrors": 5, "interval": "10s", "baseEjectionTime": "30s"}


@pytest.mark.parametrize(
    ("mtls", "tls"),
    [
        pytest.param(None, {"mode": "ISTIO_MUTUAL"}, id="default-strict"),
        pytest.param("STRICT", {"mode": "ISTIO_MUTUAL"}, id="strict"),
        pytest.param("PERMISSIVE", {"mode": "ISTIO_MUTUAL"}, id="permissive-still-sends-mtls"),
        pytest.param("DISABLE", None, id="disable-drops-istio-mutual"),
    ],
)
def test_client_tls_follows_mtls(mtls: str | None, tls: dict[str, str] | None) -> None:
    mesh = {} if mtls is None else {"mtls": mtls}
    policy = build_destination_rule(make_microservice(mesh=mesh))["spec"]["trafficPolicy"]
    assert policy.get("tls") == tls


@pytest.mark.parametrize(
    ("breaker", "pool", "outliers"),
    [
        pytest.param(
            {},
            {"http": {"http1MaxPendingRequests": 100}},
            {**OUTLIERS, "maxEjectionPercent": 50},
            id="defaults",
        ),
        pytest.param(
            {"maxRequestsPerConnection": 1},
            {"http": {"http1MaxPendingRequests": 100, "maxRequestsPerConnection": 1}},
            {**OUTLIERS, "maxEjectionPercent": 50},
            id="per-connection-limit",
        ),
        pytest.param(
            {"maxConnections": 50, "maxPendingRequests": 10},
            {"http": {"http1MaxPendingRequests": 10}, "tcp": {"maxConnections": 50}},
            {**OUTLIERS, "maxEjectionPercent": 50},
            id="tcp-limit",
        ),
        pytest.param(
            {
                "consecutive5xxErrors": 2,
                "interval": "500ms",
                "baseEjectionTime": "2m",
                "maxEjectionPercent": 0,
            },
            {"http": {"http1MaxPendingRequests": 100}},
            {
                "consecutive5xxErrors": 2,
                "interval": "500ms",
                "baseEjectionTime": "2m",
                "maxEjectionPercent": 0,
            },
            id="outlier-detection",
        ),
    ],
)
def test_circuit_breaker(
    breaker: dict[str, Any], pool: dict[str, Any], outliers: dict[str, Any]
) -> None:
    ms = make_microservice(mesh={"circuitBreaker": breaker})
    policy = build_destination_rule(ms)["spec"]["trafficPolicy"]
    assert policy["connectionPool"] == pool
    assert policy["outlierDetection"] == outliers


@pytest.mark.parametrize(
    "balancer",
    [
        pytest.param(name, id=name)
        for name in ("LEAST_REQUEST", "ROUND_ROBIN", "RANDOM", "PASSTHROUGH")
    ],
)
def test_load_balancer(balancer: str) -> None:
    policy = build_destination_rule(make_microservice(mesh={"loadBalancer": balancer}))
    assert policy["spec"]["trafficPolicy"]["loadBalancer"] == {"simple": balancer}


@pytest.mark.parametrize(
    ("namespace", "host"),
    [
        pytest.param("shop", "cart.shop.svc.cluster.local", id="shop"),
        pytest.param("e2e-1a2b", "cart.e2e-1a2b.svc.cluster.local", id="other-namespace"),
    ],
)
def test_host_and_subsets(namespace: str, host: str) -> None:
    rule = build_destination_rule(make_microservice(namespace=namespace))
    assert (rule["apiVersion"], rule["kind"]) == ("networking.istio.io/v1", "DestinationRule")
    assert rule["spec"]["host"] == host
    assert rule["spec"]["subsets"] == [
        {"name": "stable", "labels": {"shopmesh.io/track": "stable"}}
    ]
