"""Table tests for `render.autoscaler`: no HPA without spec.autoscaling; otherwise
the bounds, the scale target and the metrics in a fixed order (cpu, memory, then
Pods metrics), with the HPA's own default spelled out when none is given."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.render import build_autoscaler

from .microservices import make_microservice


def _resource(name: str, utilization: int) -> dict[str, Any]:
    return {
        "type": "Resource",
        "resource": {
            "name": name,
            "target": {"type": "Utilization", "averageUtilization": utilization},
        },
    }


def _pods(name: str, value: int | str) -> dict[str, Any]:
    return {
        "type": "Pods",
        "pods": {
            "metric": {"name": name},
            "target": {"type": "AverageValue", "averageValue": value},
        },
    }


RPS = {"name": "http_requests_per_second", "targetAverageValue": "100"}


@pytest.mark.parametrize(
    ("autoscaling", "bounds", "metrics"),
    [
        pytest.param({"maxReplicas": 5}, (1, 5), [_resource("cpu", 80)], id="default-cpu-80"),
        pytest.param(
            {"minReplicas": 2, "maxReplicas": 5, "targetCPUUtilization": 60},
            (2, 5),
            [_resource("cpu", 60)],
            id="cpu",
        ),
        pytest.param(
            {"maxReplicas": 5, "targetMemoryUtilization": 75},
            (1, 5),
            [_resource("memory", 75)],
            id="memory-only-no-cpu-default",
        ),
        pytest.param(
            {"maxReplicas": 5, "metrics": [RPS]},
            (1, 5),
            [_pods("http_requests_per_second", "100")],
            id="pods-only-no-cpu-default",
        ),
        pytest.param(
            {
                "minReplicas": 3,
                "maxReplicas": 30,
                "metrics": [RPS, {"name": "queue_depth", "targetAverageValue": 20}],
                "targetMemoryUtilization": 90,
                "targetCPUUtilization": 70,
            },
            (3, 30),
            [
                _resource("cpu", 70),
                _resource("memory", 90),
                _pods("http_requests_per_second", "100"),
                _pods("queue_depth", 20),
            ],
            id="all-in-fixed-order",
        ),
    ],
)
def test_autoscaler(
    autoscaling: dict[str, Any], bounds: tuple[int, int], metrics: list[dict[str, Any]]
) -> None:
    hpa = build_autoscaler(make_microservice(autoscaling=autoscaling))
    assert hpa is not None
    assert (hpa["apiVersion"], hpa["kind"]) == ("autoscaling/v2", "HorizontalPodAutoscaler")
    spec = hpa["spec"]
    assert (spec["minReplicas"], spec["maxReplicas"]) == bounds
    assert spec["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cart"}
    assert spec["metrics"] == metrics


def test_no_autoscaling_no_hpa() -> None:
    assert build_autoscaler(make_microservice(replicas=3)) is None
