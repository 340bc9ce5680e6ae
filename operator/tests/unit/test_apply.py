"""Table tests for apply.py: every kind render produces has a REST path, and
`KubeApi.apply` sends the field manager it is given (the hand-over to an HPA
depends on a second manager). The HTTP session is a recording fake."""

from __future__ import annotations

import json
from types import TracebackType
from typing import Any, cast

import pytest

from shopmesh_operator import constants as c
from shopmesh_operator.apply import RESOURCES, KubeApi, resource_path
from shopmesh_operator.connection import Connection
from shopmesh_operator.models import Microservice
from shopmesh_operator.render import build_children

FULL = {
    "image": "shopmesh/cart:1.0",
    "autoscaling": {"maxReplicas": 3},
    "mesh": {"allowedCallers": ["orders"]},
}


def test_every_rendered_kind_has_a_rest_path() -> None:
    ms = Microservice.from_body({"metadata": {"name": "cart", "namespace": "shop"}, "spec": FULL})
    rendered = {(child["apiVersion"], child["kind"]) for child in build_children(ms)}
    assert len(rendered) == 10
    assert rendered | {(c.API_VERSION, c.KIND)} == set(RESOURCES)


@pytest.mark.parametrize(
    ("api_version", "kind", "path"),
    [
        pytest.param(
            "v1", "ServiceAccount", "/api/v1/namespaces/shop/serviceaccounts/cart", id="sa"
        ),
        pytest.param(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            "/apis/autoscaling/v2/namespaces/shop/horizontalpodautoscalers/cart",
            id="hpa",
        ),
        pytest.param(
            "policy/v1",
            "PodDisruptionBudget",
            "/apis/policy/v1/namespaces/shop/poddisruptionbudgets/cart",
            id="pdb",
        ),
        pytest.param(
            "security.istio.io/v1",
            "AuthorizationPolicy",
            "/apis/security.istio.io/v1/namespaces/shop/authorizationpolicies/cart",
            id="authorization-policy",
        ),
        pytest.param(
            "networking.istio.io/v1",
            "VirtualService",
            "/apis/networking.istio.io/v1/namespaces/shop/virtualservices/cart",
            id="virtual-service",
        ),
        pytest.param(
            "monitoring.coreos.com/v1",
            "ServiceMonitor",
            "/apis/monitoring.coreos.com/v1/namespaces/shop/servicemonitors/cart",
            id="service-monitor",
        ),
    ],
)
def test_resource_path(api_version: str, kind: str, path: str) -> None:
    assert resource_path(api_version, kind, "shop", "cart") == path


class _Response:
    status = 200

    async def read(self) -> bytes:
        return b'{"kind": "Deployment"}'

    async def __aenter__(self) -> _Response:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        return None


class _Session:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def request(self, method: str, url: str, **kwargs: Any) -> _Response:
        self.calls.append({"method": method, "url": url, **kwargs})
        return _Response()


DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "cart", "namespace": "shop"},
    "spec": {"replicas": 3},
}


@pytest.mark.parametrize(
    ("kwargs", "manager"),
    [
        pytest.param({}, "shopmesh-operator", id="default-manager"),
        pytest.param(
            {"field_manager": c.HANDOVER_FIELD_MANAGER}, "shopmesh-operator-handover", id="handover"
        ),
    ],
)
async def test_apply_is_a_forced_server_side_apply_as_the_manager(
    kwargs: dict[str, str], manager: str
) -> None:
    session = _Session()
    api = KubeApi(Connection(cast(Any, session), "https://k8s.test", "token", None))

    assert await api.apply(DEPLOYMENT, **kwargs) == {"kind": "Deployment"}

    (call,) = session.calls
    assert (call["method"], call["url"]) == (
        "PATCH",
        "https://k8s.test/apis/apps/v1/namespaces/shop/deployments/cart",
    )
    assert call["params"] == [("fieldManager", manager), ("force", "true")]
    assert call["headers"]["Content-Type"] == "application/apply-patch+yaml"
    assert json.loads(call["data"]) == DEPLOYMENT
    assert api.writes == 1
