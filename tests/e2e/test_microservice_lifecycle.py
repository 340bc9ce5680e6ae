"""A Microservice end to end on the real local control plane: applied, its
children created and owned, KWOK pods Running and Ready, status Ready; an image
change rolls out through a new ReplicaSet; deletion garbage-collects everything."""

from __future__ import annotations

from typing import Any

import pytest

from kube import apply, condition, events_for, get, kubectl, list_items, wait_for
from manifests import microservice

pytestmark = pytest.mark.e2e
SELECTOR = "app.kubernetes.io/instance=web"


def wait_ready(namespace: str, generation: int, timeout: float = 90) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        ms = get("msvc", "web", namespace)
        ready = condition(ms, "Ready")
        caught_up = ms and ms.get("status", {}).get("observedGeneration") == generation
        return ms if caught_up and ready and ready["status"] == "True" else None

    return wait_for(probe, what=f"msvc web Ready at generation {generation}", timeout=timeout)


def test_apply_creates_owned_children_and_becomes_ready(operator: Any, namespace: str) -> None:
    apply(microservice("web", namespace, env=[{"name": "GREETING", "value": "hi"}]))
    ms = wait_ready(namespace, generation=1)

    for kind in ("serviceaccount", "service", "deployment"):
        child = get(kind, "web", namespace)
        assert child is not None, kind
        owner = child["metadata"]["ownerReferences"][0]
        assert (owner["kind"], owner["uid"], owner["controller"]) == (
            "Microservice",
            ms["metadata"]["uid"],
            True,
        )
        assert child["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "shopmesh-operator"

    deploy = get("deployment", "web", namespace)
    assert deploy is not None
    available = condition(deploy, "Available")
    assert available is not None
    assert available["status"] == "True"
    container = deploy["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [{"name": "GREETING", "value": "hi"}]

    pods = list_items("pods", namespace, SELECTOR)
    assert len(pods) == 2
    for pod in pods:
        assert pod["status"]["phase"] == "Running"
        ready = condition(pod, "Ready")
        assert ready is not None
        assert ready["status"] == "True"
        assert pod["spec"]["nodeName"].startswith("node-")

    assert ms["status"]["phase"] == "Ready"
    assert ms["status"]["readyReplicas"] == 2
    events = events_for("web", namespace)
    created = sorted(e["message"].split()[1] for e in events if e["reason"] == "Created")
    assert created == sorted(
        [
            "AuthorizationPolicy",
            "DestinationRule",
            "Deployment",
            "PeerAuthentication",
            "PodDisruptionBudget",
            "Service",
            "ServiceAccount",
            "ServiceMonitor",
            "VirtualService",
        ]
    )
    assert "Ready" in [e["reason"] for e in events]


def test_image_change_rolls_out_a_new_replicaset(operator: Any, namespace: str) -> None:
    apply(microservice("web", namespace))
    wait_ready(namespace, generation=1)

    apply(microservice("web", namespace, image="shopmesh/e2e:2.0.0"))
    ms = wait_ready(namespace, generation=2)

    def rolled_out() -> list[dict[str, Any]] | None:
        pods = list_items("pods", namespace, SELECTOR)
        live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        images = {p["spec"]["containers"][0]["image"] for p in live}
        return live if images == {"shopmesh/e2e:2.0.0"} and len(live) == 2 else None

    wait_for(rolled_out, what="only 2.0.0 pods left")
    replicasets = list_items("replicasets", namespace, SELECTOR)
    by_image = {
        rs["spec"]["template"]["spec"]["containers"][0]["image"]: rs["spec"]["replicas"]
        for rs in replicasets
    }
    assert by_image == {"shopmesh/e2e:1.0.0": 0, "shopmesh/e2e:2.0.0": 2}
    assert ms["status"]["updatedReplicas"] == 2
    deploy = get("deployment", "web", namespace)
    assert deploy is not None
    assert deploy["metadata"]["labels"]["app.kubernetes.io/version"] == "2.0.0"
    assert "Updated" in [e["reason"] for e in events_for("web", namespace)]


def test_deleting_the_microservice_garbage_collects_its_children(
    operator: Any, namespace: str
) -> None:
    apply(microservice("web", namespace))
    wait_ready(namespace, generation=1)

    kubectl("delete", "msvc", "web", "-n", namespace, "--timeout=30s")

    def all_gone() -> bool:
        kinds = ("serviceaccount", "service", "deployment")
        return all(get(kind, "web", namespace) is None for kind in kinds) and not list_items(
            "pods", namespace, SELECTOR
        )

    wait_for(all_gone, what="children garbage-collected", timeout=90)
