"""reconcile_microservice against an in-memory cluster: children created, spec
changes rolled out, and, above all, an idle pass that makes no write call at all.
Drift is in test_reconcile_drift.py, failures in test_reconcile_failures.py,
missing callers in test_reconcile_callers.py, autoscaling in test_reconcile_handover.py."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator import constants as c
from shopmesh_operator.reconcile import reconcile_microservice

from .fake_cluster import Event, FakeCluster
from .reconcile_support import C0, KINDS, NAME, NS, rendered_children, settle, stored_children


async def test_first_reconcile_creates_children_and_writes_status(cluster: FakeCluster) -> None:
    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert [(ch.kind, ch.name, ch.action) for ch in result.changes] == [
        (kind, NAME, "Created") for kind in KINDS
    ]
    assert stored_children(cluster) == rendered_children(cluster)
    assert cluster.events == [
        *(Event("Normal", "Created", f"created {kind} {NAME}") for kind in KINDS),
        Event("Normal", "Ready", "2/2 replicas available"),
    ]
    assert result.status_written
    assert [(s["phase"], s["observedGeneration"]) for s in cluster.statuses] == [("Ready", 1)]
    assert cluster.microservice()["status"]["phase"] == "Ready"
    assert cluster.applied == list(KINDS)
    assert {call.field_manager for call in cluster.applies} == {c.FIELD_MANAGER}
    assert cluster.writes == len(KINDS) + 1 + len(KINDS) + 1  # applies, status, events


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
    await settle(cluster)
    if live_resources is not None:
        _canonicalise(cluster, live_resources)

    for _ in range(3):
        result = await reconcile_microservice(NS, NAME, cluster)
        assert result is not None
        assert (result.changes, result.status_written) == ((), False)

    assert cluster.writes == 0
    assert (cluster.events, cluster.statuses, cluster.applied) == ([], [], [])


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
            [
                ("Service", ".spec.ports[0].port"),
                ("Deployment", ".spec.template.metadata.annotations.prometheus.io/port"),
                ("VirtualService", ".spec.http[0].route[0].destination.port.number"),
            ],
            id="port",
        ),
        pytest.param(
            {"mesh": {"timeout": "30s", "loadBalancer": "RANDOM"}},
            [
                ("DestinationRule", ".spec.trafficPolicy.loadBalancer.simple"),
                ("VirtualService", ".spec.http[0].timeout"),
            ],
            id="mesh",
        ),
        pytest.param(
            {"disruption": {"minAvailable": "50%"}},
            [("PodDisruptionBudget", ".spec.minAvailable")],
            id="disruption",
        ),
    ],
)
async def test_spec_change_updates_children(
    cluster: FakeCluster, spec: dict[str, Any], expected: list[tuple[str, str]]
) -> None:
    await settle(cluster)
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
    assert stored_children(cluster) == rendered_children(cluster)


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
    await settle(cluster)
    cluster.bump_generation(env=[{"name": "API_VERSION", "value": after}])

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert [(ch.kind, ch.action) for ch in result.changes] == [("Deployment", "Updated")]
    assert stored_children(cluster) == rendered_children(cluster)
