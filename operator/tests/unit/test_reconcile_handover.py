"""reconcile_microservice with autoscaling: the hand-over of a Deployment's
spec.replicas from the operator's field manager to the HPA (via
HANDOVER_FIELD_MANAGER, so the count never drops to the API default of 1), done
exactly once, an idle pass over all ten children that writes nothing, and the
HPA deleted again when spec.autoscaling goes (only one the operator manages).

The fake cluster models field ownership (see fake_cluster.py): a Deployment
applied without `replicas` keeps its count only if another manager still owns it.
"""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator import constants as c
from shopmesh_operator.reconcile import owns_replicas, reconcile_microservice

from .fake_cluster import Apply, Event, FakeCluster, service_account_body

NS, NAME = "shop", "cart"
HANDED_OVER = ".spec.replicas, handed over to the HorizontalPodAutoscaler"
OWNER = "operator-owns-replicas"


def _entry(manager: str, fields: dict[str, Any], operation: str = "Apply") -> dict[str, Any]:
    return {"manager": manager, "operation": operation, "fieldsV1": fields}


REPLICAS = {"f:spec": {"f:replicas": {}, "f:template": {}}}
NO_REPLICAS = {"f:spec": {"f:template": {}}}


@pytest.mark.parametrize(
    ("entries", "owns"),
    [
        pytest.param([_entry(c.FIELD_MANAGER, REPLICAS)], True, id=OWNER),
        pytest.param([_entry(c.FIELD_MANAGER, NO_REPLICAS)], False, id="operator-without-replicas"),
        pytest.param([_entry(c.FIELD_MANAGER, REPLICAS, "Update")], False, id="update-not-apply"),
        pytest.param([_entry(c.HANDOVER_FIELD_MANAGER, REPLICAS)], False, id="handover-manager"),
        pytest.param(
            [
                _entry("kube-controller-manager", REPLICAS, "Update"),
                _entry(c.FIELD_MANAGER, REPLICAS),
            ],
            True,
            id="operator-entry-not-first",
        ),
        pytest.param([_entry(c.FIELD_MANAGER, {})], False, id="no-spec-fields"),
        pytest.param([], False, id="no-entries"),
        pytest.param(None, False, id="managed-fields-null"),
    ],
)
def test_owns_replicas(entries: list[dict[str, Any]] | None, owns: bool) -> None:
    assert owns_replicas({"metadata": {"managedFields": entries}}) is owns


async def test_switching_autoscaling_on_hands_replicas_over_once(cluster: FakeCluster) -> None:
    cluster.microservice()["spec"]["replicas"] = 3
    await reconcile_microservice(NS, NAME, cluster)
    assert owns_replicas(cluster.child("Deployment"))
    cluster.forget_writes()
    cluster.bump_generation(autoscaling={"minReplicas": 2, "maxReplicas": 10})
    del cluster.microservice()["spec"]["replicas"]  # so the spec (1) and HPA minimum (2) differ

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert [(ch.kind, ch.action, ch.path) for ch in result.changes] == [
        ("Deployment", "Updated", HANDED_OVER),
        ("HorizontalPodAutoscaler", "Created", None),
    ]
    handover, deployment, hpa = cluster.applies
    assert handover == Apply(
        "Deployment",
        c.HANDOVER_FIELD_MANAGER,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": NAME, "namespace": NS},
            "spec": {"replicas": 3},  # the live count
        },
    )
    assert (deployment.kind, deployment.field_manager) == ("Deployment", c.FIELD_MANAGER)
    assert "replicas" not in deployment.manifest["spec"]
    assert (hpa.kind, hpa.field_manager) == ("HorizontalPodAutoscaler", c.FIELD_MANAGER)
    live = cluster.child("Deployment")
    assert live["spec"]["replicas"] == 3  # not the API default of 1
    assert not owns_replicas(live)
    assert cluster.events[0] == Event(
        "Normal", "Updated", f"updated Deployment cart (first difference at {HANDED_OVER})"
    )
    assert result.status.replicas == 3

    cluster.forget_writes()
    again = await reconcile_microservice(NS, NAME, cluster)
    assert again is not None
    assert (again.changes, again.status_written) == ((), False)
    assert cluster.writes == 0


async def test_without_a_hand_over_the_fake_resets_replicas_like_the_api_server() -> None:
    """Why the assertion on the live count above can fail."""
    cluster = FakeCluster()
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": NAME, "namespace": NS},
        "spec": {"replicas": 3},
    }
    await cluster.apply(deployment)
    await cluster.apply({**deployment, "spec": {}})
    assert cluster.child("Deployment")["spec"]["replicas"] == 1


@pytest.mark.parametrize(
    ("spec", "initial"),
    [
        pytest.param({"autoscaling": {"minReplicas": 3, "maxReplicas": 9}}, 3, id="min-replicas"),
        pytest.param(
            {"replicas": 5, "autoscaling": {"minReplicas": 2, "maxReplicas": 9}},
            5,
            id="spec-replicas-above-min",
        ),
    ],
)
async def test_autoscaled_deployment_is_created_at_size_and_handed_over(
    cluster: FakeCluster, spec: dict[str, Any], initial: int
) -> None:
    cluster.microservice()["spec"] = {"image": "shopmesh/cart:1.0", **spec}

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    deployments = [a for a in cluster.applies if a.kind == "Deployment"]
    assert [(a.field_manager, a.manifest["spec"].get("replicas")) for a in deployments] == [
        (c.FIELD_MANAGER, initial),
        (c.HANDOVER_FIELD_MANAGER, initial),
        (c.FIELD_MANAGER, None),
    ]
    live = cluster.child("Deployment")
    assert (live["spec"]["replicas"], owns_replicas(live)) == (initial, False)
    assert ("Deployment", "Created") in [(ch.kind, ch.action) for ch in result.changes]

    cluster.forget_writes()
    await reconcile_microservice(NS, NAME, cluster)
    assert cluster.writes == 0


FULL_SPEC: dict[str, Any] = {
    "image": "shopmesh/cart:1.0",
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
    "autoscaling": {
        "minReplicas": 2,
        "maxReplicas": 6,
        "targetCPUUtilization": 70,
        "metrics": [{"name": "http_requests_per_second", "targetAverageValue": "50"}],
    },
    "disruption": {"minAvailable": "50%"},
    "mesh": {"allowedCallers": ["orders", "istio-system/istio-ingressgateway"]},
}
ALL_KINDS = {
    "ServiceAccount",
    "Service",
    "Deployment",
    "HorizontalPodAutoscaler",
    "PodDisruptionBudget",
    "PeerAuthentication",
    "DestinationRule",
    "VirtualService",
    "AuthorizationPolicy",
    "ServiceMonitor",
}


async def test_idle_reconcile_with_all_ten_children_makes_zero_writes(
    cluster: FakeCluster,
) -> None:
    cluster.put(service_account_body("orders"))
    cluster.put(service_account_body("istio-ingressgateway", "istio-system"))
    cluster.microservice()["spec"] = FULL_SPEC
    await reconcile_microservice(NS, NAME, cluster)
    owned = {
        key[1] for key, obj in cluster.children().items() if "ownerReferences" in obj["metadata"]
    }
    assert owned == ALL_KINDS
    cluster.forget_writes()

    for _ in range(3):
        result = await reconcile_microservice(NS, NAME, cluster)
        assert result is not None
        assert (result.changes, result.status_written) == ((), False)
        condition = result.status.condition("OutOfSync")
        assert condition is not None
        assert condition.status == "False"

    assert cluster.writes == 0
    assert (cluster.events, cluster.statuses, cluster.applies) == ([], [], [])


REPLICAS_PATH = ".spec.replicas"
HPA_KEY = ("autoscaling/v2", "HorizontalPodAutoscaler", NS, NAME)
AUTOSCALED: dict[str, Any] = {
    "image": "shopmesh/cart:1.0",
    "autoscaling": {"minReplicas": 2, "maxReplicas": 6},
}


async def test_switching_autoscaling_off_removes_the_hpa(cluster: FakeCluster) -> None:
    cluster.microservice()["spec"] = dict(AUTOSCALED)
    await reconcile_microservice(NS, NAME, cluster)
    assert HPA_KEY in cluster.objects
    cluster.forget_writes()
    cluster.bump_generation(replicas=4)
    del cluster.microservice()["spec"]["autoscaling"]

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert HPA_KEY not in cluster.objects
    assert cluster.deleted == [HPA_KEY]
    assert [(ch.kind, ch.action, ch.path) for ch in result.changes] == [
        ("Deployment", "Updated", REPLICAS_PATH),
        ("HorizontalPodAutoscaler", "Deleted", None),
    ]
    assert cluster.events == [
        Event(
            "Normal",
            "Updated",
            f"updated Deployment {NAME} (first difference at {REPLICAS_PATH})",
        ),
        Event(
            "Normal",
            "Deleted",
            f"deleted HorizontalPodAutoscaler {NAME}: the spec no longer asks for it",
        ),
    ]
    assert cluster.applied == ["Deployment"]
    assert cluster.writes == 5  # the Deployment, the delete, two events, the status
    live = cluster.child("Deployment")
    assert live["spec"]["replicas"] == 4  # the operator owns the count again
    assert owns_replicas(live)

    cluster.forget_writes()
    again = await reconcile_microservice(NS, NAME, cluster)
    assert again is not None
    assert (again.changes, again.status_written) == ((), False)
    assert (cluster.writes, cluster.deleted) == (0, [])


def _foreign_hpa(labels: dict[str, str] | None) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": NAME, "namespace": NS}
    if labels is not None:
        metadata["labels"] = labels
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": metadata,
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": NAME},
            "minReplicas": 1,
            "maxReplicas": 3,
        },
    }


@pytest.mark.parametrize(
    "labels",
    [
        pytest.param(None, id="no-labels"),
        pytest.param({"app.kubernetes.io/name": NAME}, id="without-managed-by"),
        pytest.param({c.LABEL_MANAGED_BY: "Helm"}, id="managed-by-helm"),
        pytest.param({c.LABEL_MANAGED_BY: ""}, id="managed-by-empty"),
    ],
)
async def test_hpa_the_operator_does_not_manage_is_left_alone(
    cluster: FakeCluster, labels: dict[str, str] | None
) -> None:
    """Someone else's HPA under the same name is not the operator's to delete,
    whether or not the spec ever asked for autoscaling."""
    hpa = _foreign_hpa(labels)
    cluster.put(hpa)

    for _ in range(2):
        result = await reconcile_microservice(NS, NAME, cluster)
        assert result is not None
        assert "HorizontalPodAutoscaler" not in [ch.kind for ch in result.changes]

    assert cluster.objects[HPA_KEY] == hpa
    assert cluster.deleted == []
    assert not [e for e in cluster.events if e.reason == "Deleted"]
