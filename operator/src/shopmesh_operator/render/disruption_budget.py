"""The PodDisruptionBudget: minAvailable or maxUnavailable from spec.disruption,
maxUnavailable 1 by default (safe for drains at any replica count).
Used by render/__init__.py."""

from __future__ import annotations

from typing import Any

from shopmesh_operator.models import Microservice
from shopmesh_operator.render.metadata import build_metadata, build_selector_labels


def build_disruption_budget(ms: Microservice) -> dict[str, Any]:
    budget = ms.spec.disruption
    spec: dict[str, Any] = {"selector": {"matchLabels": build_selector_labels(ms)}}
    if budget.min_available is not None:
        spec["minAvailable"] = budget.min_available
    else:
        spec["maxUnavailable"] = budget.max_unavailable
    # Let evictions of pods that are not ready yet through, so a broken rollout can be drained.
    spec["unhealthyPodEvictionPolicy"] = "AlwaysAllow"
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": build_metadata(ms),
        "spec": spec,
    }
