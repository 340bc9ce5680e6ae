"""Bad Microservices are refused at `kubectl apply` with a clear message, and
nothing is created: not the resource, not a child."""

from __future__ import annotations

from typing import Any

import pytest

from kube import apply, get, list_items
from manifests import microservice

pytestmark = pytest.mark.e2e


def without_image(ns: str) -> dict[str, Any]:
    ms = microservice("bad", ns)
    del ms["spec"]["image"]
    return ms


CASES = [
    pytest.param(without_image, "spec.image: Required value", id="missing-image"),
    pytest.param(lambda ns: microservice("bad", ns, image=""), "spec.image", id="empty-image"),
    pytest.param(lambda ns: microservice("bad", ns, port=0), "spec.port", id="port-zero"),
    pytest.param(lambda ns: microservice("bad", ns, port=70000), "spec.port", id="port-too-big"),
    pytest.param(
        lambda ns: microservice("bad", ns, replicas=-1), "spec.replicas", id="negative-replicas"
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, port="http"), "spec.port", id="port-not-a-number"
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, colour="red"),
        'unknown field "spec.colour"',
        id="unknown-field",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, autoscaling={"minReplicas": 2}),
        "spec.autoscaling is not implemented yet",
        id="autoscaling-not-implemented",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, mesh={"mtls": "STRICT"}),
        "spec.mesh is not implemented yet",
        id="mesh-not-implemented",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, rollout={"strategy": "Canary"}),
        "spec.rollout is not implemented yet",
        id="rollout-not-implemented",
    ),
    pytest.param(
        lambda ns: microservice(
            "bad",
            ns,
            env=[
                {
                    "name": "A",
                    "value": "1",
                    "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}},
                }
            ],
        ),
        "set value or valueFrom, not both",
        id="env-value-and-valueFrom",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, env=[{"name": "A", "valueFrom": {}}]),
        "exactly one of secretKeyRef or configMapKeyRef",
        id="env-valueFrom-empty",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, probes={"readiness": "health"}),
        "spec.probes.readiness",
        id="probe-path-not-absolute",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, resources={"limits": {"cpu": "lots"}}),
        "spec.resources.limits.cpu",
        id="quantity-not-a-quantity",
    ),
    pytest.param(
        lambda ns: microservice("a" * 60, ns),
        "metadata.name",
        id="name-too-long-for-children",
    ),
]


@pytest.mark.parametrize(("build", "message"), CASES)
def test_bad_microservice_is_refused_and_changes_nothing(
    operator: Any, namespace: str, build: Any, message: str
) -> None:
    manifest = build(namespace)
    result = apply(manifest, check=False)
    assert result.returncode != 0, f"accepted: {manifest}"
    assert message in result.stderr, result.stderr
    assert get("msvc", manifest["metadata"]["name"], namespace) is None
    assert list_items("deployments", namespace) == []
    assert list_items("services", namespace) == []
