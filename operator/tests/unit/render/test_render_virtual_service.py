"""Table tests for `render.virtual_service`: one route to the stable subset with
weight 100, the route timeout, and retries (attempts, perTryTimeout, retryOn), or
`attempts: 0` when retries are off, which Istio reads as "never retry"."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.render import build_virtual_service

from .microservices import make_microservice

HOST = "cart.shop.svc.cluster.local"
DEFAULT_RETRY_ON = "connect-failure,refused-stream,reset,unavailable"


@pytest.mark.parametrize(
    ("mesh", "timeout", "retries"),
    [
        pytest.param(
            {},
            "10s",
            {"attempts": 2, "perTryTimeout": "2s", "retryOn": DEFAULT_RETRY_ON},
            id="defaults",
        ),
        pytest.param(
            {"timeout": "6s", "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"}},
            "6s",
            {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"},
            id="budget-filled-exactly",
        ),
        pytest.param(
            {"timeout": "500ms", "retries": {"attempts": 1, "perTryTimeout": "250ms"}},
            "500ms",
            {"attempts": 1, "perTryTimeout": "250ms", "retryOn": DEFAULT_RETRY_ON},
            id="milliseconds",
        ),
        pytest.param(
            {"timeout": "1s", "retries": {"attempts": 0, "perTryTimeout": "5s", "retryOn": "5xx"}},
            "1s",
            {"attempts": 0},
            id="attempts-0-means-no-retries",
        ),
    ],
)
def test_timeout_and_retries(mesh: dict[str, Any], timeout: str, retries: dict[str, Any]) -> None:
    (route,) = build_virtual_service(make_microservice(mesh=mesh))["spec"]["http"]
    assert (route["timeout"], route["retries"]) == (timeout, retries)


@pytest.mark.parametrize(
    "port", [pytest.param(8080, id="default-port"), pytest.param(9443, id="custom-port")]
)
def test_route_goes_to_the_stable_subset(port: int) -> None:
    service = build_virtual_service(make_microservice(port=port))
    assert (service["apiVersion"], service["kind"]) == ("networking.istio.io/v1", "VirtualService")
    assert service["spec"]["hosts"] == [HOST]
    (route,) = service["spec"]["http"]
    assert route["name"] == "primary"
    assert route["route"] == [
        {
            "destination": {"host": HOST, "subset": "stable", "port": {"number": port}},
            "weight": 100,
        }
    ]
