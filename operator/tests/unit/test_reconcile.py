"""reconcile_microservice against an in-memory cluster: children created, drift
repaired, spec changes rolled out, and, above all, an idle pass that makes no
write call at all. Failures are in test_reconcile_failures.py."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from shopmesh_operator.models import Microservice
from shopmesh_operator.reconcile import reconcile_microservice
from shopmesh_operator.render import build_children

from .fake_cluster import Event, FakeCluster

NS, NAME = "shop", "cart"
KINDS = ("ServiceAccount", "Service", "Deployment")
C0 = ".spec.template.spec.containers[0]"


async def _settle(cluster: FakeCluster) -> None:
    await reconcile_microservice(NS, NAME, cluster)
    cluster.forget_writes()


def _rendered_children(cluster: FakeCluster) -> list[dict[str, Any]]:
    return build_children(Microservice.from_body(cluster.microservice()))


def _stored_children(cluster: FakeCluster) -> list[dict[str, Any]]:
    """The stored children in render order, without what the fake server added."""
    stored = [copy.deepcopy(cluster.child(kind)) for kind in KINDS]
    for obj in stored:
        obj.pop("status", None)
        obj["metadata"].pop("generation", None)
    return stored


async def test_first_reconcile_creates_children_and_writes_status(cluster: FakeCluster) -> None:
    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert [(ch.kind, ch.name, ch.action) for ch in result.changes] == [
        (kind, NAME, "Created") for kind in KINDS
    ]
    assert _stored_children(cluster) == _rendered_children(cluster)
    assert cluster.events == [
        *(Event("Normal", "Created", f"created {kind} {NAME}") for kind in KINDS),
        Event("Normal", "Ready", "2/2 replicas available"),
    ]
    assert result.status_written
    assert [(s["phase"], s["observedGeneration"]) for s in cluster.statuses] == [("Ready", 1)]
    assert cluster.microservice()["status"]["phase"] == "Ready"
    assert cluster.writes == 3 + 1 + 4


def _canonicalise(cluster: FakeCluster, resources: dict[str, Any]) -> None:
    """What the API server does to what we applied: defaults and canonical quantities."""
    deployment = cluster.child("Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["terminationMessagePath"] = "/dev/termination-log"
    container["readinessProbe"]["successThreshold"] = 1
    container["resources"] = resources
    deployment["spec"]["progressDeadlineSeconds"] = 600
    cluster.child("Service")["spec"]["clusterIP"] = "10.96.0.17"
    cluster.child("ServiceAccount")["metadata"]["resourceVersion"] = "123"


QUANTITIES = {"requests": {"cpu": "1000m", "memory": "1024Mi"}, "limits": {"cpu": 2}}


@pytest.mark.parametrize(
    ("resources", "live_resources"),
    [
        pytest.param(QUANTITIES, None, id="untouched"),
        pytest.param(
            QUANTITIES,
            {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2"}},
            id="server-defaults-and-canonical-quantities",
        ),
        pytest.param(
            {"limits": {"nvidia.com/gpu": 1}},
            {"limits": {"nvidia.com/gpu": "1"}},
            id="extended-resource",
        ),
    ],
)
async def test_idle_reconcile_makes_zero_writes(
    cluster: FakeCluster, resources: dict[str, Any], live_resources: dict[str, Any] | None
) -> None:
    cluster.microservice()["spec"]["resources"] = resources
    await _settle(cluster)
    if live_resources is not None:
        _canonicalise(cluster, live_resources)

    for _ in range(3):
        result = await reconcile_microservice(NS, NAME, cluster)
        assert result is not None
        assert (result.changes, result.status_written) == ((), False)

    assert cluster.writes == 0
    assert (cluster.events, cluster.statuses, cluster.applied) == ([], [], [])


def _pop(kind: str) -> Callable[[FakeCluster], None]:
    def mutate(cluster: FakeCluster) -> None:
        api_version = "apps/v1" if kind == "Deployment" else "v1"
        del cluster.objects[(api_version, kind, NS, NAME)]

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
    ],
)
async def test_drift_is_repaired(
    cluster: FakeCluster,
    mutate: Callable[[FakeCluster], None],
    kind: str,
    path: str | None,
    message: str,
) -> None:
    await _settle(cluster)
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
    assert _stored_children(cluster) == _rendered_children(cluster)
    assert cluster.children().keys() == good.keys()


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param({"replicas": 3}, [("Deployment", ".spec.replicas")], id="replicas"),
        pytest.param(
            {"image": "shopmesh/cart:1.1"},
            [(kind, ".metadata.labels.app.kubernetes.io/version") for kind in KINDS],
            id="image-tag",
        ),
        pytest.param(
            {"env": [{"name": "A", "value": "b"}]}, [("Deployment", f"{C0}.env")], id="env-added"
        ),
        pytest.param(
            {"probes": {"readiness": "/ready"}},
            [("Deployment", f"{C0}.readinessProbe.httpGet.path")],
            id="probe",
        ),
        pytest.param(
            {"port": 9090},
            [("Service", ".spec.ports[0].port"), ("Deployment", f"{C0}.ports[0].containerPort")],
            id="port",
        ),
    ],
)
async def test_spec_change_updates_children(
    cluster: FakeCluster, spec: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    await _settle(cluster)
    cluster.bump_generation(**spec)

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert [(ch.kind, ch.path) for ch in result.changes] == expected
    assert {ch.action for ch in result.changes} == {"Updated"}
    assert cluster.events == [
        Event("Normal", "Updated", f"updated {kind} {NAME} (first difference at {path})")
        for kind, path in expected
    ]
    assert [s["observedGeneration"] for s in cluster.statuses] == [2]
    assert cluster.writes == 2 * len(expected) + 1
    assert _stored_children(cluster) == _rendered_children(cluster)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param("1.1", "1.10", id="version-1.1-to-1.10"),
        pytest.param("1", "1.0", id="1-to-1.0"),
        pytest.param("500m", "0.5", id="quantity-lookalike"),
    ],
)
async def test_env_value_change_is_rolled_out(
    cluster: FakeCluster, before: str, after: str
) -> None:
    """Values that are equal as quantities are still different env values."""
    cluster.microservice()["spec"]["env"] = [{"name": "API_VERSION", "value": before}]
    await _settle(cluster)
    cluster.bump_generation(env=[{"name": "API_VERSION", "value": after}])

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert [(ch.kind, ch.action) for ch in result.changes] == [("Deployment", "Updated")]
    assert _stored_children(cluster) == _rendered_children(cluster)
