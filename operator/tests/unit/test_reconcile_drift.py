"""reconcile_microservice repairs drift: a child edited or deleted outside the
operator is restored with one apply and one DriftRepaired event, and nothing else
is written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from shopmesh_operator.reconcile import reconcile_microservice

from .fake_cluster import API_VERSIONS, Event, FakeCluster
from .reconcile_support import NAME, NS, rendered_children, settle, stored_children


def _pop(kind: str) -> Callable[[FakeCluster], None]:
    def mutate(cluster: FakeCluster) -> None:
        del cluster.objects[(API_VERSIONS[kind], kind, NS, NAME)]

    return mutate


def _set(kind: str, *path: str, value: Any) -> Callable[[FakeCluster], None]:
    def mutate(cluster: FakeCluster) -> None:
        node = cluster.child(kind)
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value

    return mutate


@pytest.mark.parametrize(
    ("mutate", "kind", "path", "message"),
    [
        pytest.param(
            _set("Deployment", "spec", "replicas", value=5),
            "Deployment",
            ".spec.replicas",
            "Deployment cart was changed outside the operator at .spec.replicas; restored",
            id="deployment-replicas-edited",
        ),
        pytest.param(
            _set("Service", "spec", "type", value="NodePort"),
            "Service",
            ".spec.type",
            "Service cart was changed outside the operator at .spec.type; restored",
            id="service-type-edited",
        ),
        pytest.param(
            _set("ServiceAccount", "metadata", "labels", value={}),
            "ServiceAccount",
            ".metadata.labels.app.kubernetes.io/name",
            "ServiceAccount cart was changed outside the operator at "
            ".metadata.labels.app.kubernetes.io/name; restored",
            id="labels-removed",
        ),
        pytest.param(
            _pop("Deployment"),
            "Deployment",
            None,
            "Deployment cart was deleted outside the operator; recreated",
            id="deployment-deleted",
        ),
        pytest.param(
            _pop("Service"),
            "Service",
            None,
            "Service cart was deleted outside the operator; recreated",
            id="service-deleted",
        ),
        pytest.param(
            _set("DestinationRule", "spec", "trafficPolicy", "tls", value={"mode": "DISABLE"}),
            "DestinationRule",
            ".spec.trafficPolicy.tls.mode",
            "DestinationRule cart was changed outside the operator at "
            ".spec.trafficPolicy.tls.mode; restored",
            id="destination-rule-tls-disabled",
        ),
        pytest.param(
            _set("PeerAuthentication", "spec", "mtls", "mode", value="PERMISSIVE"),
            "PeerAuthentication",
            ".spec.mtls.mode",
            "PeerAuthentication cart was changed outside the operator at .spec.mtls.mode; restored",
            id="peer-authentication-relaxed",
        ),
        pytest.param(
            _pop("AuthorizationPolicy"),
            "AuthorizationPolicy",
            None,
            "AuthorizationPolicy cart was deleted outside the operator; recreated",
            id="authorization-policy-deleted",
        ),
        pytest.param(
            _set("PodDisruptionBudget", "spec", "maxUnavailable", value=0),
            "PodDisruptionBudget",
            ".spec.maxUnavailable",
            "PodDisruptionBudget cart was changed outside the operator at .spec.maxUnavailable; "
            "restored",
            id="disruption-budget-tightened",
        ),
    ],
)
async def test_drift_is_repaired(
    cluster: FakeCluster,
    mutate: Callable[[FakeCluster], None],
    kind: str,
    path: str | None,
    message: str,
) -> None:
    await settle(cluster)
    good = cluster.children()
    mutate(cluster)

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert [(ch.kind, ch.action, ch.path) for ch in result.changes] == [
        (kind, "DriftRepaired", path)
    ]
    assert cluster.applied == [kind]
    assert cluster.events == [Event("Normal", "DriftRepaired", message)]
    assert cluster.writes == 2  # one apply, one event; the status did not change
    assert stored_children(cluster) == rendered_children(cluster)
    assert cluster.children().keys() == good.keys()
