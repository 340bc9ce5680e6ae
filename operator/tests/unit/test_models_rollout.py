"""Table tests for the Canary and BlueGreen strategies in models.py: spec.rollout.canary
(steps as a tagged union of setWeight, pause and analysis), its analysis (interval
bounds, metric names and the fields each kind of metric takes), spec.rollout.blueGreen
(its bounds, defaults and the same analysis) and the rule that a strategy comes with
its block, refused and accepted. The CRD's CEL twins of these rules are pinned in
test_crd_canary.py."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.models import (
    Analysis,
    AnalysisMetric,
    AnalysisStep,
    BlueGreen,
    Canary,
    CanaryStep,
    MicroserviceSpec,
    Pause,
    Rollout,
)

from .model_support import assert_refused

IMAGE = "shopmesh/cart:1.0"
SUCCESS = {"name": "success-rate", "min": 99}
LATENCY = {"name": "latency-p99", "maxMs": 500}
CUSTOM = {"name": "queue-depth", "query": "sum(queue_depth)", "max": 100}
ANALYSIS = {"metrics": [SUCCESS]}


def _canary(*steps: dict[str, Any], **canary: Any) -> dict[str, Any]:
    """A rollout with strategy Canary; `steps` default to one setWeight."""
    return {"strategy": "Canary", "canary": {"steps": list(steps or [{"setWeight": 20}]), **canary}}


def _metric(metric: dict[str, Any]) -> dict[str, Any]:
    return _canary({"analysis": {}}, analysis={"metrics": [metric]})


def _interval(interval: str) -> dict[str, Any]:
    return _canary(analysis={**ANALYSIS, "interval": interval})


def _blue_green(**blue_green: Any) -> dict[str, Any]:
    """A rollout with strategy BlueGreen and these `blueGreen` settings."""
    return {"strategy": "BlueGreen", "blueGreen": blue_green}


def _bad(rollout: dict[str, Any], loc: str, kind: str, text: str = "", *, id: str) -> Any:
    return pytest.param({"image": IMAGE, "rollout": rollout}, f"rollout{loc}", kind, text, id=id)


METRIC = ".canary.analysis.metrics.0"


@pytest.mark.parametrize(
    ("spec", "loc", "kind", "text"),
    [
        _bad(
            {"strategy": "Canary"},
            "",
            "value_error",
            "rollout.strategy Canary needs rollout.canary (its steps)",
            id="canary-strategy-without-steps",
        ),
        _bad(
            {"canary": {"steps": [{"setWeight": 20}]}},
            "",
            "value_error",
            "rollout.canary is only read with rollout.strategy Canary",
            id="canary-block-with-rolling-default",
        ),
        _bad(
            {**_canary(), "strategy": "Rolling"},
            "",
            "value_error",
            "rollout.canary is only read with rollout.strategy Canary",
            id="canary-block-with-rolling",
        ),
        _bad(
            {"strategy": "Canary", "canary": {"steps": []}},
            ".canary.steps",
            "too_short",
            id="no-steps",
        ),
        _bad(
            {"strategy": "Canary", "canary": {}},
            ".canary.steps",
            "missing",
            id="steps-missing",
        ),
        _bad(
            {"strategy": "Canary", "canary": {"steps": [{"setWeight": 10}] * 51}},
            ".canary.steps",
            "too_long",
            id="51-steps",
        ),
        _bad(
            _canary({}),
            ".canary.steps.0",
            "value_error",
            "a canary step is exactly one of setWeight, pause or analysis",
            id="empty-step",
        ),
        _bad(
            _canary({"setWeight": 20, "pause": {}}),
            ".canary.steps.0",
            "value_error",
            "a canary step is exactly one of setWeight, pause or analysis",
            id="weight-and-pause-in-one-step",
        ),
        _bad(
            _canary({"pause": {}, "analysis": {}}, analysis=ANALYSIS),
            ".canary.steps.0",
            "value_error",
            "a canary step is exactly one of setWeight, pause or analysis",
            id="pause-and-analysis-in-one-step",
        ),
        _bad(
            _canary({"setWeight": 101}),
            ".canary.steps.0.setWeight",
            "less_than_equal",
            id="weight-101",
        ),
        _bad(
            _canary({"setWeight": -1}),
            ".canary.steps.0.setWeight",
            "greater_than_equal",
            id="weight-negative",
        ),
        _bad(
            _canary({"pause": {"duration": "5"}}),
            ".canary.steps.0.pause.duration",
            "string_pattern_mismatch",
            id="pause-duration-without-unit",
        ),
        _bad(
            _canary({"analysis": {"measurements": 0}}, analysis=ANALYSIS),
            ".canary.steps.0.analysis.measurements",
            "greater_than_equal",
            id="analysis-step-0-measurements",
        ),
        _bad(
            _canary({"analysis": {"measurements": 101}}, analysis=ANALYSIS),
            ".canary.steps.0.analysis.measurements",
            "less_than_equal",
            id="analysis-step-101-measurements",
        ),
        _bad(
            _canary({"setWeight": 20}, {"analysis": {}}),
            ".canary",
            "value_error",
            "canary: an analysis step needs canary.analysis",
            id="analysis-step-without-analysis",
        ),
        _bad(
            _canary(trafficRouting="gateway"),
            ".canary.trafficRouting",
            "literal_error",
            id="unknown-traffic-routing",
        ),
        _bad(
            _interval("4999ms"),
            ".canary.analysis",
            "value_error",
            "analysis.interval must be between 5s and 1h",
            id="interval-under-5s",
        ),
        _bad(
            _interval("3600001ms"),
            ".canary.analysis",
            "value_error",
            "analysis.interval must be between 5s and 1h",
            id="interval-over-1h",
        ),
        _bad(
            _interval("1.5h"),
            ".canary.analysis",
            "value_error",
            "analysis.interval must be between 5s and 1h",
            id="interval-1.5h",
        ),
        _bad(
            _interval("30"),
            ".canary.analysis.interval",
            "string_pattern_mismatch",
            id="interval-without-unit",
        ),
        _bad(
            _canary(analysis={"metrics": []}),
            ".canary.analysis.metrics",
            "too_short",
            id="no-metrics",
        ),
        _bad(
            _canary(analysis={"metrics": [{**CUSTOM, "name": f"m{i}"} for i in range(11)]}),
            ".canary.analysis.metrics",
            "too_long",
            id="11-metrics",
        ),
        _bad(
            _canary(analysis={"metrics": [SUCCESS, {**SUCCESS, "min": 95}]}),
            ".canary.analysis",
            "value_error",
            "analysis.metrics: each name once",
            id="metric-named-twice",
        ),
        _bad(
            _canary(analysis={**ANALYSIS, "failureLimit": 0}),
            ".canary.analysis.failureLimit",
            "greater_than_equal",
            id="failure-limit-0",
        ),
        _bad(
            _canary(analysis={**ANALYSIS, "minRequests": 0}),
            ".canary.analysis.minRequests",
            "greater_than_equal",
            id="min-requests-0",
        ),
        _bad(
            _metric({**CUSTOM, "name": "Queue"}),
            f"{METRIC}.name",
            "string_pattern_mismatch",
            id="metric-name-upper-case",
        ),
        _bad(
            _metric({**CUSTOM, "name": "q" * 64}),
            f"{METRIC}.name",
            "string_too_long",
            id="metric-name-64-chars",
        ),
        _bad(
            _metric({"name": "success-rate"}),
            METRIC,
            "value_error",
            "analysis metric success-rate needs min, a percentage 0..100",
            id="success-rate-without-min",
        ),
        _bad(
            _metric({"name": "success-rate", "min": 100.5}),
            METRIC,
            "value_error",
            "analysis metric success-rate needs min, a percentage 0..100",
            id="success-rate-over-100",
        ),
        _bad(
            _metric({"name": "success-rate", "min": -1}),
            METRIC,
            "value_error",
            "analysis metric success-rate needs min, a percentage 0..100",
            id="success-rate-negative",
        ),
        _bad(
            _metric({**SUCCESS, "max": 100}),
            METRIC,
            "value_error",
            "analysis metric success-rate takes min only",
            id="success-rate-with-max",
        ),
        _bad(
            _metric({**SUCCESS, "query": "up"}),
            METRIC,
            "value_error",
            "analysis metric success-rate takes min only",
            id="success-rate-with-query",
        ),
        _bad(
            _metric({"name": "latency-p99", "max": 500}),
            METRIC,
            "value_error",
            "analysis metric latency-p99 needs maxMs",
            id="latency-without-maxMs",
        ),
        _bad(
            _metric({**LATENCY, "min": 1}),
            METRIC,
            "value_error",
            "analysis metric latency-p99 takes maxMs only",
            id="latency-with-min",
        ),
        _bad(
            _metric({"name": "latency-p99", "maxMs": 0}),
            f"{METRIC}.maxMs",
            "greater_than",
            id="latency-maxMs-0",
        ),
        _bad(
            _metric({"name": "queue-depth", "max": 100}),
            METRIC,
            "value_error",
            "analysis metric queue-depth: a custom metric needs a query (built in: "
            "success-rate, latency-p99)",
            id="custom-without-query",
        ),
        _bad(
            _metric({"name": "queue-depth", "query": "sum(queue_depth)"}),
            METRIC,
            "value_error",
            "analysis metric queue-depth needs min or max",
            id="custom-without-bounds",
        ),
        _bad(
            _metric({**CUSTOM, "maxMs": 10}),
            METRIC,
            "value_error",
            "analysis metric queue-depth: maxMs is for latency-p99",
            id="custom-with-maxMs",
        ),
        _bad(
            _metric({**CUSTOM, "query": ""}),
            f"{METRIC}.query",
            "string_too_short",
            id="custom-empty-query",
        ),
        _bad(
            _metric({**CUSTOM, "threshold": 3}),
            f"{METRIC}.threshold",
            "extra_forbidden",
            id="metric-unknown-field",
        ),
    ],
)
def test_bad_canary_is_refused(spec: dict[str, Any], loc: str, kind: str, text: str) -> None:
    assert_refused(spec, loc, kind, text)


ONLY_BLUE_GREEN = "rollout.blueGreen is only read with rollout.strategy BlueGreen"


@pytest.mark.parametrize(
    ("spec", "loc", "kind", "text"),
    [
        _bad(
            {"blueGreen": {}},
            "",
            "value_error",
            ONLY_BLUE_GREEN,
            id="blue-green-block-with-rolling-default",
        ),
        _bad(
            {**_blue_green(), "strategy": "Rolling"},
            "",
            "value_error",
            ONLY_BLUE_GREEN,
            id="blue-green-block-with-rolling",
        ),
        _bad(
            {**_canary(), "blueGreen": {"scaleDownDelaySeconds": 0}},
            "",
            "value_error",
            ONLY_BLUE_GREEN,
            id="blue-green-block-with-canary",
        ),
        _bad(
            {**_blue_green(), "canary": {"steps": [{"setWeight": 20}]}},
            "",
            "value_error",
            "rollout.canary is only read with rollout.strategy Canary",
            id="canary-block-with-blue-green",
        ),
        _bad(
            _blue_green(autoPromotionSeconds=-1),
            ".blueGreen.autoPromotionSeconds",
            "greater_than_equal",
            id="auto-promotion-negative",
        ),
        _bad(
            _blue_green(autoPromotionSeconds=86401),
            ".blueGreen.autoPromotionSeconds",
            "less_than_equal",
            id="auto-promotion-over-a-day",
        ),
        _bad(
            _blue_green(autoPromotionSeconds="30s"),
            ".blueGreen.autoPromotionSeconds",
            "int_parsing",
            id="auto-promotion-as-a-duration",
        ),
        _bad(
            _blue_green(scaleDownDelaySeconds=-1),
            ".blueGreen.scaleDownDelaySeconds",
            "greater_than_equal",
            id="scale-down-delay-negative",
        ),
        _bad(
            _blue_green(scaleDownDelaySeconds=86401),
            ".blueGreen.scaleDownDelaySeconds",
            "less_than_equal",
            id="scale-down-delay-over-a-day",
        ),
        _bad(
            _blue_green(prePromotionMeasurements=0),
            ".blueGreen.prePromotionMeasurements",
            "greater_than_equal",
            id="pre-promotion-measurements-0",
        ),
        _bad(
            _blue_green(prePromotionMeasurements=101),
            ".blueGreen.prePromotionMeasurements",
            "less_than_equal",
            id="pre-promotion-measurements-101",
        ),
        _bad(
            _blue_green(analysis={}),
            ".blueGreen.analysis.metrics",
            "missing",
            id="analysis-without-metrics",
        ),
        _bad(
            _blue_green(analysis={**ANALYSIS, "interval": "2s"}),
            ".blueGreen.analysis",
            "value_error",
            "analysis.interval must be between 5s and 1h",
            id="analysis-interval-under-5s",
        ),
        _bad(
            _blue_green(analysis={"metrics": [{"name": "latency-p99", "max": 500}]}),
            ".blueGreen.analysis.metrics.0",
            "value_error",
            "analysis metric latency-p99 needs maxMs",
            id="analysis-latency-without-maxMs",
        ),
        _bad(
            _blue_green(previewService="cart-preview"),
            ".blueGreen.previewService",
            "extra_forbidden",
            id="unknown-setting",
        ),
        _bad(
            _blue_green(steps=[{"setWeight": 20}]),
            ".blueGreen.steps",
            "extra_forbidden",
            id="canary-steps-in-blue-green",
        ),
    ],
)
def test_bad_blue_green_is_refused(spec: dict[str, Any], loc: str, kind: str, text: str) -> None:
    assert_refused(spec, loc, kind, text)


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        pytest.param(
            {"strategy": "BlueGreen"},
            Rollout(strategy="BlueGreen"),
            id="strategy-alone",
        ),
        pytest.param(
            _blue_green(),
            Rollout(
                strategy="BlueGreen",
                blue_green=BlueGreen(
                    auto_promotion_seconds=None,
                    scale_down_delay_seconds=30,
                    analysis=None,
                    pre_promotion_measurements=3,
                ),
            ),
            id="defaults",
        ),
        pytest.param(
            _blue_green(autoPromotionSeconds=0, scaleDownDelaySeconds=0),
            Rollout(
                strategy="BlueGreen",
                blue_green=BlueGreen(auto_promotion_seconds=0, scale_down_delay_seconds=0),
            ),
            id="promote-at-once-and-no-delay",
        ),
        pytest.param(
            _blue_green(
                autoPromotionSeconds=86400,
                scaleDownDelaySeconds=86400,
                prePromotionMeasurements=100,
                analysis={"interval": "1m", "metrics": [SUCCESS, LATENCY, CUSTOM]},
            ),
            Rollout(
                strategy="BlueGreen",
                blue_green=BlueGreen(
                    auto_promotion_seconds=86400,
                    scale_down_delay_seconds=86400,
                    pre_promotion_measurements=100,
                    analysis=Analysis(
                        interval="1m",
                        metrics=(
                            AnalysisMetric(name="success-rate", min=99),
                            AnalysisMetric(name="latency-p99", max_ms=500),
                            AnalysisMetric(name="queue-depth", query="sum(queue_depth)", max=100),
                        ),
                    ),
                ),
            ),
            id="every-setting-at-its-highest",
        ),
    ],
)
def test_good_blue_green_parses(rollout: dict[str, Any], expected: Rollout) -> None:
    assert MicroserviceSpec.model_validate({"image": IMAGE, "rollout": rollout}).rollout == expected


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        pytest.param(
            _canary(),
            Rollout(strategy="Canary", canary=Canary(steps=(CanaryStep(set_weight=20),))),
            id="one-weight-step",
        ),
        pytest.param(
            _canary(
                {"setWeight": 0},
                {"pause": {}},
                {"setWeight": 50},
                {"pause": {"duration": "1.5m"}},
                {"analysis": {}},
                {"setWeight": 100},
                {"analysis": {"measurements": 100}},
                trafficRouting="replicas",
                analysis={"metrics": [SUCCESS, LATENCY, CUSTOM]},
            ),
            Rollout(
                strategy="Canary",
                canary=Canary(
                    steps=(
                        CanaryStep(set_weight=0),
                        CanaryStep(pause=Pause()),
                        CanaryStep(set_weight=50),
                        CanaryStep(pause=Pause(duration="1.5m")),
                        CanaryStep(analysis=AnalysisStep(measurements=3)),
                        CanaryStep(set_weight=100),
                        CanaryStep(analysis=AnalysisStep(measurements=100)),
                    ),
                    traffic_routing="replicas",
                    analysis=Analysis(
                        interval="30s",
                        failure_limit=1,
                        min_requests=10,
                        metrics=(
                            AnalysisMetric(name="success-rate", min=99),
                            AnalysisMetric(name="latency-p99", max_ms=500),
                            AnalysisMetric(name="queue-depth", query="sum(queue_depth)", max=100),
                        ),
                    ),
                ),
            ),
            id="every-step-kind-and-metric-kind-with-defaults",
        ),
        pytest.param(
            _canary({"setWeight": 20}, {"setWeight": 20}),
            Rollout(
                strategy="Canary",
                canary=Canary(steps=(CanaryStep(set_weight=20), CanaryStep(set_weight=20))),
            ),
            id="same-weight-twice",
        ),
        pytest.param(
            _canary(analysis=ANALYSIS),
            Rollout(
                strategy="Canary",
                canary=Canary(
                    steps=(CanaryStep(set_weight=20),),
                    analysis=Analysis(metrics=(AnalysisMetric(name="success-rate", min=99),)),
                ),
            ),
            id="analysis-without-analysis-steps",
        ),
    ],
)
def test_good_canary_parses(rollout: dict[str, Any], expected: Rollout) -> None:
    assert MicroserviceSpec.model_validate({"image": IMAGE, "rollout": rollout}).rollout == expected


@pytest.mark.parametrize(
    "metric",
    [
        pytest.param({"name": "success-rate", "min": 0}, id="success-rate-0"),
        pytest.param({"name": "success-rate", "min": 100}, id="success-rate-100"),
        pytest.param({"name": "success-rate", "min": 99.95}, id="success-rate-fraction"),
        pytest.param({"name": "latency-p99", "maxMs": 0.5}, id="latency-fraction-of-a-ms"),
        pytest.param({"name": "errors", "query": "sum(x)", "min": -1}, id="custom-min-only"),
        pytest.param({"name": "errors", "query": "sum(x)", "max": 0}, id="custom-max-only"),
        pytest.param(
            {"name": "errors", "query": "sum(x)", "min": 1, "max": 2}, id="custom-min-and-max"
        ),
        pytest.param({"name": "e" * 63, "query": "sum(x)", "max": 1}, id="name-63-chars"),
    ],
)
def test_good_metric_parses(metric: dict[str, Any]) -> None:
    spec = MicroserviceSpec.model_validate({"image": IMAGE, "rollout": _metric(metric)})
    assert spec.rollout.canary is not None
    assert spec.rollout.canary.analysis is not None
    assert spec.rollout.canary.analysis.metrics == (AnalysisMetric.model_validate(metric),)


@pytest.mark.parametrize(
    ("interval", "seconds"),
    [
        pytest.param("5s", 5, id="5s-lowest"),
        pytest.param("5000ms", 5, id="5000ms"),
        pytest.param("30s", 30, id="default"),
        pytest.param("1.5m", 90, id="decimal-minutes"),
        pytest.param("60m", 3600, id="60m"),
        pytest.param("1h", 3600, id="1h-highest"),
    ],
)
def test_interval_within_bounds_parses(interval: str, seconds: float) -> None:
    spec = MicroserviceSpec.model_validate({"image": IMAGE, "rollout": _interval(interval)})
    assert spec.rollout.canary is not None
    assert spec.rollout.canary.analysis is not None
    assert spec.rollout.canary.analysis.interval_seconds == seconds
