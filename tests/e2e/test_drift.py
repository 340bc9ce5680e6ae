"""Drift repair: children edited or deleted behind the operator's back are put
back within seconds, with a DriftRepaired event saying what happened."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from kube import apply, condition, events_for, get, kubectl, wait_for
from manifests import microservice

pytestmark = pytest.mark.e2e


def ready(namespace: str) -> Any:
    def probe() -> dict[str, Any] | None:
        ms = get("msvc", "web", namespace)
        cond = condition(ms, "Ready")
        return ms if cond and cond["status"] == "True" else None

    return wait_for(probe, what="msvc web Ready", timeout=90)


def _service_port(ns: str) -> Any:
    svc = get("service", "web", ns)
    return svc and svc["spec"]["ports"][0]["port"]


def _replicas(ns: str) -> Any:
    deploy = get("deployment", "web", ns)
    return deploy and deploy["spec"]["replicas"]


def _image(ns: str) -> Any:
    deploy = get("deployment", "web", ns)
    return deploy and deploy["spec"]["template"]["spec"]["containers"][0]["image"]


# (tamper with the child, read back the field, expected value after repair)
CASES = [
    pytest.param(
        lambda ns: kubectl("scale", "deployment", "web", "-n", ns, "--replicas=5"),
        _replicas,
        2,
        id="deployment-scaled-by-hand",
    ),
    pytest.param(
        lambda ns: kubectl("set", "image", "deployment/web", "app=evil:latest", "-n", ns),
        _image,
        "shopmesh/e2e:1.0.0",
        id="deployment-image-changed",
    ),
    pytest.param(
        lambda ns: kubectl(
            "patch",
            "service",
            "web",
            "-n",
            ns,
            "--type=json",
            "-p",
            '[{"op": "replace", "path": "/spec/ports/0/port", "value": 9999}]',
        ),
        _service_port,
        8080,
        id="service-port-changed",
    ),
    pytest.param(
        lambda ns: kubectl("delete", "service", "web", "-n", ns),
        _service_port,
        8080,
        id="service-deleted",
    ),
]


@pytest.mark.parametrize(("tamper", "read", "expected"), CASES)
def test_tampered_child_is_repaired(
    operator: Any,
    namespace: str,
    tamper: Callable[[str], Any],
    read: Callable[[str], Any],
    expected: Any,
) -> None:
    apply(microservice("web", namespace))
    ready(namespace)
    tamper(namespace)
    wait_for(lambda: read(namespace) == expected, what="the child restored", timeout=20)
    # The Event is posted right after the repair: give it a moment to land.
    wait_for(
        lambda: [e for e in events_for("web", namespace) if e["reason"] == "DriftRepaired"],
        what="a DriftRepaired event",
        timeout=10,
    )


def test_deleted_deployment_is_recreated(operator: Any, namespace: str) -> None:
    apply(microservice("web", namespace))
    ready(namespace)
    old_uid = get("deployment", "web", namespace)["metadata"]["uid"]  # type: ignore[index]
    kubectl("delete", "deployment", "web", "-n", namespace, "--wait=false")

    def recreated() -> Any:
        deploy = get("deployment", "web", namespace)
        return deploy and deploy["metadata"]["uid"] != old_uid

    wait_for(recreated, what="a new Deployment", timeout=20)
    ready(namespace)
