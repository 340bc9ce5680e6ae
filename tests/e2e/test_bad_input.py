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


def with_canary(*steps: dict[str, Any], **canary: Any) -> Any:
    """A builder of a Microservice with strategy Canary (one setWeight step by default)."""
    rollout = {
        "strategy": "Canary",
        "canary": {"steps": list(steps or [{"setWeight": 20}]), **canary},
    }
    return lambda ns: microservice("bad", ns, rollout=rollout)


def with_metric(metric: dict[str, Any]) -> Any:
    return with_canary(analysis={"metrics": [metric]})


def with_blue_green(**blue_green: Any) -> Any:
    """A builder of a Microservice with strategy BlueGreen and these settings."""
    rollout = {"strategy": "BlueGreen", "blueGreen": blue_green}
    return lambda ns: microservice("bad", ns, rollout=rollout)


SUCCESS_RATE = {"name": "success-rate", "min": 99}
#: The CEL rules of rollout.canary (operator/tests/unit/test_crd_canary.py pins them).
CANARY_CASES = [
    pytest.param(
        lambda ns: microservice("bad", ns, rollout={"strategy": "Canary"}),
        "rollout.strategy Canary needs rollout.canary (its steps)",
        id="canary-without-steps",
    ),
    pytest.param(
        lambda ns: microservice(
            "bad", ns, rollout={"strategy": "Rolling", "canary": {"steps": [{"setWeight": 20}]}}
        ),
        "rollout.canary is only read with rollout.strategy Canary",
        id="canary-steps-with-rolling",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, rollout={"strategy": "Canary", "canary": {"steps": []}}),
        "spec.rollout.canary.steps",
        id="canary-no-steps",
    ),
    pytest.param(
        with_canary({"setWeight": 150}),
        "spec.rollout.canary.steps[0].setWeight",
        id="canary-weight-above-100",
    ),
    pytest.param(
        with_canary({"setWeight": 20, "pause": {}}),
        "a canary step is exactly one of setWeight, pause or analysis",
        id="canary-step-of-two-kinds",
    ),
    pytest.param(
        with_canary({"pause": {"duration": "1h30m"}}),
        "spec.rollout.canary.steps[0].pause.duration",
        id="canary-pause-compound-duration",
    ),
    pytest.param(
        with_canary({"setWeight": 20}, {"analysis": {}}),
        "canary: an analysis step needs canary.analysis",
        id="canary-analysis-step-without-analysis",
    ),
    pytest.param(
        with_canary(trafficRouting="gateway"),
        "spec.rollout.canary.trafficRouting",
        id="canary-unknown-traffic-routing",
    ),
    pytest.param(
        with_canary(analysis={"interval": "2s", "metrics": [SUCCESS_RATE]}),
        "analysis.interval must be between 5s and 1h",
        id="analysis-interval-under-5s",
    ),
    pytest.param(
        with_canary(analysis={"metrics": [SUCCESS_RATE, {**SUCCESS_RATE, "min": 95}]}),
        "spec.rollout.canary.analysis.metrics[1]: Duplicate value",
        id="analysis-metric-named-twice",
    ),
    pytest.param(
        with_metric({"name": "success-rate", "min": 101}),
        "analysis metric success-rate needs min, a percentage 0..100",
        id="success-rate-above-100",
    ),
    pytest.param(
        with_metric({**SUCCESS_RATE, "query": "up"}),
        "analysis metric success-rate takes min only",
        id="success-rate-with-query",
    ),
    pytest.param(
        with_metric({"name": "latency-p99", "max": 500}),
        "analysis metric latency-p99 needs maxMs",
        id="latency-without-maxMs",
    ),
    pytest.param(
        with_metric({"name": "latency-p99", "maxMs": 0}),
        "spec.rollout.canary.analysis.metrics[0].maxMs",
        id="latency-maxMs-zero",
    ),
    pytest.param(
        with_metric({"name": "errors", "max": 1}),
        "a custom metric needs a query",
        id="custom-metric-without-query",
    ),
    pytest.param(
        with_metric({"name": "errors", "query": "sum(x)"}),
        "a custom metric needs min or max",
        id="custom-metric-without-bounds",
    ),
    pytest.param(
        with_metric({"name": "errors", "query": "sum(x)", "max": 1, "maxMs": 5}),
        "maxMs is for latency-p99",
        id="custom-metric-with-maxMs",
    ),
]
ONLY_BLUE_GREEN = "rollout.blueGreen is only read with rollout.strategy BlueGreen"
#: rollout.blueGreen: its CEL rule (test_crd_canary.py pins it) and its schema, whose
#: analysis is canary.analysis's (a YAML anchor in the CRD).
BLUE_GREEN_CASES = [
    pytest.param(
        lambda ns: microservice(
            "bad",
            ns,
            rollout={
                "strategy": "Canary",
                "canary": {"steps": [{"setWeight": 20}]},
                "blueGreen": {"scaleDownDelaySeconds": 30},
            },
        ),
        ONLY_BLUE_GREEN,
        id="bluegreen-settings-with-canary",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, rollout={"blueGreen": {"autoPromotionSeconds": 60}}),
        ONLY_BLUE_GREEN,
        id="bluegreen-settings-with-rolling-default",
    ),
    pytest.param(
        with_blue_green(scaleDownDelaySeconds=-1),
        "spec.rollout.blueGreen.scaleDownDelaySeconds: Invalid value: -1",
        id="bluegreen-negative-scale-down-delay",
    ),
    pytest.param(
        with_blue_green(autoPromotionSeconds=86401),
        "spec.rollout.blueGreen.autoPromotionSeconds: Invalid value: 86401",
        id="bluegreen-auto-promotion-over-a-day",
    ),
    pytest.param(
        with_blue_green(prePromotionMeasurements=0),
        "spec.rollout.blueGreen.prePromotionMeasurements: Invalid value: 0",
        id="bluegreen-no-pre-promotion-measurements",
    ),
    pytest.param(
        with_blue_green(previewService="cart-preview"),
        'unknown field "spec.rollout.blueGreen.previewService"',
        id="bluegreen-unknown-setting",
    ),
    pytest.param(
        with_blue_green(analysis={"interval": "2s", "metrics": [SUCCESS_RATE]}),
        "analysis.interval must be between 5s and 1h",
        id="bluegreen-analysis-interval-under-5s",
    ),
    pytest.param(
        with_blue_green(analysis={"metrics": [SUCCESS_RATE, {**SUCCESS_RATE, "min": 95}]}),
        "spec.rollout.blueGreen.analysis.metrics[1]: Duplicate value",
        id="bluegreen-analysis-metric-named-twice",
    ),
    pytest.param(
        with_blue_green(analysis={"metrics": [{"name": "latency-p99", "max": 500}]}),
        "analysis metric latency-p99 needs maxMs",
        id="bluegreen-analysis-latency-without-maxMs",
    ),
]

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
        lambda ns: microservice("bad", ns, autoscaling={"minReplicas": 5, "maxReplicas": 2}),
        "autoscaling.minReplicas must not exceed maxReplicas",
        id="min-replicas-above-max",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, autoscaling={"minReplicas": 2}),
        "spec.autoscaling.maxReplicas: Required value",
        id="autoscaling-without-max",
    ),
    pytest.param(
        lambda ns: microservice(
            "bad", ns, replicas=1, autoscaling={"minReplicas": 2, "maxReplicas": 4}
        ),
        "spec.replicas must lie within autoscaling.minReplicas..maxReplicas",
        id="replicas-outside-autoscaling-bounds",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, disruption={"minAvailable": 1, "maxUnavailable": 1}),
        "exactly one of minAvailable or maxUnavailable",
        id="disruption-both",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, disruption={"maxUnavailable": "half"}),
        "a count (0 or more) or a percentage",
        id="disruption-not-a-percentage",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, mesh={"mtls": "OFF"}),
        "spec.mesh.mtls",
        id="unknown-mtls-mode",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, mesh={"timeout": "-5s"}),
        "spec.mesh.timeout",
        id="negative-duration",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, mesh={"timeout": "5"}),
        "spec.mesh.timeout",
        id="duration-without-unit",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, mesh={"allowedCallers": ["Orders"]}),
        "spec.mesh.allowedCallers[0]",
        id="caller-not-a-dns-label",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, mesh={"allowedCallers": ["a_b"]}),
        "spec.mesh.allowedCallers[0]",
        id="caller-with-underscore",
    ),
    pytest.param(
        lambda ns: microservice(
            "bad",
            ns,
            mesh={"timeout": "5s", "retries": {"attempts": 3, "perTryTimeout": "2s"}},
        ),
        "exceeds mesh.timeout, so retries would be cut off by the route timeout",
        id="retry-budget-exceeds-timeout",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, mesh={"circuitBreaker": {"maxEjectionPercent": 150}}),
        "spec.mesh.circuitBreaker.maxEjectionPercent",
        id="ejection-percent-above-100",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, rollout={"strategy": "Shadow"}),
        "spec.rollout.strategy",
        id="unknown-strategy",
    ),
    pytest.param(
        lambda ns: microservice("bad", ns, rollout={"progressDeadlineSeconds": 5}),
        "spec.rollout.progressDeadlineSeconds: Invalid value: 5",
        id="progress-deadline-too-short",
    ),
    *CANARY_CASES,
    *BLUE_GREEN_CASES,
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
    for kind in ("deployments", "services", "virtualservices", "authorizationpolicies"):
        assert list_items(kind, namespace) == [], kind
