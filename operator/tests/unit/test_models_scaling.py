"""Table tests for the scaling parts of models.py: spec.autoscaling (the HPA),
spec.disruption (the PDB) and the strategies spec.rollout refuses, refused and
accepted. The Canary and BlueGreen strategies have their own table,
test_models_rollout.py."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.models import Autoscaling, Disruption, MicroserviceSpec, PodsMetric

from .model_support import assert_refused

IMAGE = "shopmesh/cart:1.0"


def _bad(section: str, value: Any, loc: str, kind: str, text: str = "", *, id: str) -> Any:
    return pytest.param({"image": IMAGE, section: value}, loc, kind, text, id=id)


@pytest.mark.parametrize(
    ("spec", "loc", "kind", "text"),
    [
        _bad(
            "autoscaling",
            {"minReplicas": 5, "maxReplicas": 4},
            "autoscaling",
            "value_error",
            "minReplicas must not exceed maxReplicas",
            id="min-above-max",
        ),
        _bad(
            "autoscaling",
            {"maxReplicas": 0},
            "autoscaling.maxReplicas",
            "greater_than_equal",
            id="max-0",
        ),
        _bad(
            "autoscaling",
            {"minReplicas": 0, "maxReplicas": 3},
            "autoscaling.minReplicas",
            "greater_than_equal",
            id="min-0",
        ),
        _bad(
            "autoscaling",
            {"maxReplicas": 1001},
            "autoscaling.maxReplicas",
            "less_than_equal",
            id="max-1001",
        ),
        _bad("autoscaling", {"minReplicas": 2}, "autoscaling.maxReplicas", "missing", id="no-max"),
        _bad(
            "autoscaling",
            {"maxReplicas": 3, "targetCPUUtilization": 0},
            "autoscaling.targetCPUUtilization",
            "greater_than_equal",
            id="cpu-0",
        ),
        _bad(
            "autoscaling",
            {"maxReplicas": 3, "targetMemoryUtilization": 101},
            "autoscaling.targetMemoryUtilization",
            "less_than_equal",
            id="memory-101",
        ),
        _bad(
            "autoscaling",
            {"maxReplicas": 3, "targetCpuUtilization": 50},
            "autoscaling.targetCpuUtilization",
            "extra_forbidden",
            id="cpu-alias-is-exactly-targetCPUUtilization",
        ),
        _bad(
            "autoscaling",
            {"maxReplicas": 3, "metrics": [{"name": "rps"}]},
            "autoscaling.metrics.0.targetAverageValue",
            "missing",
            id="pods-metric-without-target",
        ),
        _bad(
            "autoscaling",
            {"maxReplicas": 3, "metrics": [{"name": "", "targetAverageValue": 1}]},
            "autoscaling.metrics.0.name",
            "string_too_short",
            id="pods-metric-without-name",
        ),
        _bad(
            "disruption",
            {"minAvailable": 1, "maxUnavailable": 1},
            "disruption",
            "value_error",
            "exactly one of minAvailable or maxUnavailable",
            id="disruption-both",
        ),
        _bad(
            "disruption",
            {},
            "disruption",
            "value_error",
            "exactly one of minAvailable or maxUnavailable",
            id="disruption-neither",
        ),
        _bad(
            "disruption",
            {"minAvailable": 1.5},
            "disruption.minAvailable.int",
            "int_from_float",
            id="disruption-float",
        ),
        _bad("rollout", {"strategy": "Shadow"}, "rollout.strategy", "literal_error", id="unknown"),
        _bad("rollout", {"strategy": "rolling"}, "rollout.strategy", "literal_error", id="case"),
        _bad(
            "rollout",
            {"strategy": "blueGreen"},
            "rollout.strategy",
            "literal_error",
            id="bluegreen-case",
        ),
        _bad(
            "rollout",
            {"strategy": "Rolling", "blueGreen": {}},
            "rollout",
            "value_error",
            "rollout.blueGreen is only read with rollout.strategy BlueGreen",
            id="bluegreen-settings-with-rolling",
        ),
        _bad(
            "rollout",
            {"strategy": "BlueGreen", "blueGreen": {"scaleDownDelaySeconds": -1}},
            "rollout.blueGreen.scaleDownDelaySeconds",
            "greater_than_equal",
            id="bluegreen-negative-scale-down-delay",
        ),
        _bad(
            "rollout",
            {"strategy": "BlueGreen", "blueGreen": {"previewService": "x"}},
            "rollout.blueGreen.previewService",
            "extra_forbidden",
            id="bluegreen-unknown-setting",
        ),
    ],
)
def test_bad_scaling_is_refused(spec: dict[str, Any], loc: str, kind: str, text: str) -> None:
    assert_refused(spec, loc, kind, text)


@pytest.mark.parametrize(
    ("section", "value", "expected"),
    [
        pytest.param(
            "autoscaling",
            {"maxReplicas": 4},
            Autoscaling(min_replicas=1, max_replicas=4),
            id="autoscaling-defaults",
        ),
        pytest.param(
            "autoscaling",
            {"minReplicas": 3, "maxReplicas": 3},
            Autoscaling(min_replicas=3, max_replicas=3),
            id="min-equals-max",
        ),
        pytest.param(
            "autoscaling",
            {
                "minReplicas": 2,
                "maxReplicas": 10,
                "targetCPUUtilization": 70,
                "targetMemoryUtilization": 100,
                "metrics": [
                    {"name": "http_requests_per_second", "targetAverageValue": 50},
                    {"name": "queue_depth", "targetAverageValue": "500m"},
                ],
            },
            Autoscaling(
                min_replicas=2,
                max_replicas=10,
                target_cpu_utilization=70,
                target_memory_utilization=100,
                metrics=(
                    PodsMetric(name="http_requests_per_second", target_average_value=50),
                    PodsMetric(name="queue_depth", target_average_value="500m"),
                ),
            ),
            id="cpu-memory-and-pods-metrics",
        ),
        pytest.param(
            "disruption",
            {"minAvailable": "50%"},
            Disruption(min_available="50%"),
            id="min-available-percent",
        ),
        pytest.param(
            "disruption", {"minAvailable": 0}, Disruption(min_available=0), id="min-available-0"
        ),
        pytest.param(
            "disruption",
            {"maxUnavailable": "25%"},
            Disruption(max_unavailable="25%"),
            id="max-unavailable-percent",
        ),
    ],
)
def test_good_scaling_parses(section: str, value: dict[str, Any], expected: Any) -> None:
    spec = MicroserviceSpec.model_validate({"image": IMAGE, section: value})
    assert getattr(spec, section) == expected


def test_replicas_may_be_set_outside_the_hpa_range() -> None:
    """Only the CRD's CEL rule refuses that (test_crd_agrees.py); the operator
    ignores spec.replicas under autoscaling, so it must not refuse a stored object."""
    spec = MicroserviceSpec.model_validate(
        {"image": IMAGE, "replicas": 9, "autoscaling": {"minReplicas": 1, "maxReplicas": 3}}
    )
    assert (spec.replicas, spec.autoscaling) == (9, Autoscaling(min_replicas=1, max_replicas=3))
