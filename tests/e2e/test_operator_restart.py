"""The operator keeps all its state in the cluster: killed mid-reconcile or down
while resources change, a fresh process picks up where the cluster says."""

from __future__ import annotations

import time
from typing import Any

import pytest

from kube import apply, condition, get, wait_for
from manifests import microservice

pytestmark = pytest.mark.e2e


def ready_at(namespace: str, name: str, generation: int) -> Any:
    def probe() -> Any:
        ms = get("msvc", name, namespace)
        cond = condition(ms, "Ready")
        ok = cond and cond["status"] == "True"
        return ms if ok and ms["status"].get("observedGeneration") == generation else None  # type: ignore[index]

    return wait_for(probe, what=f"{name} Ready at generation {generation}", timeout=90)


def test_killed_mid_reconcile_then_restarted_converges(operator: Any, namespace: str) -> None:
    try:
        for i in range(5):
            apply(microservice(f"svc{i}", namespace))
        time.sleep(0.3)  # let it start working on them, then pull the plug
        operator.kill()
        apply(microservice("svc0", namespace, image="shopmesh/e2e:2.0.0"))
    finally:
        operator.start()
    for i in range(1, 5):
        ready_at(namespace, f"svc{i}", 1)
    ms = ready_at(namespace, "svc0", 2)
    deploy = get("deployment", "svc0", namespace)
    assert deploy is not None
    assert deploy["spec"]["template"]["spec"]["containers"][0]["image"] == "shopmesh/e2e:2.0.0"
    assert ms["status"]["phase"] == "Ready"


def test_resources_created_while_down_are_reconciled_on_start(
    operator: Any, namespace: str
) -> None:
    operator.stop()
    try:
        apply(microservice("late", namespace))
        time.sleep(1)
        assert get("deployment", "late", namespace) is None
    finally:
        operator.start()
    ready_at(namespace, "late", 1)
