"""The HorizontalPodAutoscaler (autoscaling/v2), rendered only when spec.autoscaling
is set: CPU and memory utilisation targets and custom Pods metrics.
Used by render/__init__.py."""

from __future__ import annotations

from typing import Any

from shopmesh_operator.models import Autoscaling, Microservice
from shopmesh_operator.render.metadata import build_metadata


def build_autoscaler(ms: Microservice) -> dict[str, Any] | None:
    scaling = ms.spec.autoscaling
    if scaling is None:
        return None
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": build_metadata(ms),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": ms.metadata.name,
            },
            "minReplicas": scaling.min_replicas,
            "maxReplicas": scaling.max_replicas,
            "metrics": _build_metrics(scaling),
        },
    }


def _build_metrics(scaling: Autoscaling) -> list[dict[str, Any]]:
    metrics: list[dict[str, Any]] = []
    for resource, target in (
        ("cpu", scaling.target_cpu_utilization),
        ("memory", scaling.target_memory_utilization),
    ):
        if target is not None:
            metrics.append(
                {
                    "type": "Resource",
                    "resource": {
                        "name": resource,
                        "target": {"type": "Utilization", "averageUtilization": target},
                    },
                }
            )
    for metric in scaling.metrics:
        metrics.append(
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": metric.name},
                    "target": {"type": "AverageValue", "averageValue": metric.target_average_value},
                },
            }
        )
    if not metrics:  # the HPA default, spelled out so drift checks see what is live
        metrics.append(
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {"type": "Utilization", "averageUtilization": 80},
                },
            }
        )
    return metrics
