"""The cross-field rules of the Canary and BlueGreen strategies are checked twice: by
CEL rules in the CRD, so `kubectl apply` refuses a bad release, and by the validators
of models.Rollout, Canary, CanaryStep, Analysis and AnalysisMetric, so the operator
never runs one. A rollout the CRD admits but the model refuses is stored and then
never reconciles (InvalidSpec).

Each row is a bad rollout, the CRD node and CEL rule that refuse it, and the reason
the model and the CRD both give; the CRD's message goes on to say what to do.
rollout.blueGreen.analysis shares canary.analysis's schema (a YAML anchor in the
CRD), so the analysis rows are also run as blue-green rollouts. There is no CEL
evaluator among the test dependencies (see test_crd_retry_budget.py): the few rules
of spec.rollout itself are mirrored by hand below, pinned to the CRD's texts, so good
rollouts are shown to pass them; the rows of tests/e2e/test_bad_input.py apply bad
specs to a real API server.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError

from shopmesh_operator.models import BUILTIN_METRICS, MicroserviceSpec

from .crd_schema import cel_rules, crd_node

ROLLOUT = "spec.rollout"
CANARY = "spec.rollout.canary"
STEP = "spec.rollout.canary.steps[]"
ANALYSIS = "spec.rollout.canary.analysis"
METRIC = "spec.rollout.canary.analysis.metrics[]"
BLUE_GREEN = "spec.rollout.blueGreen"
BLUE_GREEN_ANALYSIS = "spec.rollout.blueGreen.analysis"
BUILT_IN = ("success-rate", "latency-p99")


@dataclass(frozen=True)
class Twin:
    id: str
    path: str
    rule: str
    #: What the model's error and the CRD's message both say.
    reason: str
    #: A rollout both refuse for this reason.
    rollout: dict[str, Any]


def _canary(*steps: dict[str, Any], **canary: Any) -> dict[str, Any]:
    return {"strategy": "Canary", "canary": {"steps": list(steps or [{"setWeight": 20}]), **canary}}


def _metric(metric: dict[str, Any]) -> dict[str, Any]:
    return _canary(analysis={"metrics": [metric]})


def _blue_green(**blue_green: Any) -> dict[str, Any]:
    return {"strategy": "BlueGreen", "blueGreen": blue_green}


def _custom(rule: str) -> str:
    return f'self.name in ["{BUILT_IN[0]}", "{BUILT_IN[1]}"] || {rule}'


TWIN_ROWS = [
    Twin(
        "canary-strategy-needs-canary",
        ROLLOUT,
        'self.strategy != "Canary" || has(self.canary)',
        "rollout.strategy Canary needs rollout.canary (its steps)",
        {"strategy": "Canary"},
    ),
    Twin(
        "canary-only-with-canary-strategy",
        ROLLOUT,
        '!has(self.canary) || self.strategy == "Canary"',
        "rollout.canary is only read with rollout.strategy Canary",
        {"canary": {"steps": [{"setWeight": 20}]}},
    ),
    Twin(
        "blue-green-only-with-blue-green-strategy",
        ROLLOUT,
        '!has(self.blueGreen) || self.strategy == "BlueGreen"',
        "rollout.blueGreen is only read with rollout.strategy BlueGreen",
        {"strategy": "Canary", "canary": {"steps": [{"setWeight": 20}]}, "blueGreen": {}},
    ),
    Twin(
        "analysis-steps-need-analysis",
        CANARY,
        "has(self.analysis) || !self.steps.exists(s, has(s.analysis))",
        "canary: an analysis step needs canary.analysis",
        _canary({"analysis": {}}),
    ),
    Twin(
        "step-exactly-one",
        STEP,
        "(has(self.setWeight) ? 1 : 0) + (has(self.pause) ? 1 : 0) "
        "+ (has(self.analysis) ? 1 : 0) == 1",
        "a canary step is exactly one of setWeight, pause or analysis",
        _canary({"setWeight": 20, "pause": {}}),
    ),
    Twin(
        "interval-bounds",
        ANALYSIS,
        "duration(self.interval) >= duration('5s') && duration(self.interval) <= duration('1h')",
        "analysis.interval must be between 5s and 1h",
        _canary(analysis={"interval": "2s", "metrics": [{"name": "success-rate", "min": 99}]}),
    ),
    Twin(
        "success-rate-needs-min",
        METRIC,
        'self.name != "success-rate" || (has(self.min) && self.min >= 0.0 && self.min <= 100.0)',
        "analysis metric success-rate needs min, a percentage 0..100",
        _metric({"name": "success-rate", "min": 101}),
    ),
    Twin(
        "success-rate-takes-min-only",
        METRIC,
        'self.name != "success-rate" || !(has(self.max) || has(self.maxMs) || has(self.query))',
        "analysis metric success-rate takes min only",
        _metric({"name": "success-rate", "min": 99, "maxMs": 5}),
    ),
    Twin(
        "latency-needs-maxMs",
        METRIC,
        'self.name != "latency-p99" || has(self.maxMs)',
        "analysis metric latency-p99 needs maxMs",
        _metric({"name": "latency-p99"}),
    ),
    Twin(
        "latency-takes-maxMs-only",
        METRIC,
        'self.name != "latency-p99" || !(has(self.min) || has(self.max) || has(self.query))',
        "analysis metric latency-p99 takes maxMs only",
        _metric({"name": "latency-p99", "maxMs": 500, "query": "up"}),
    ),
    Twin(
        "custom-needs-query",
        METRIC,
        _custom("has(self.query)"),
        "a custom metric needs a query (built in: success-rate, latency-p99)",
        _metric({"name": "errors", "max": 1}),
    ),
    Twin(
        "custom-needs-min-or-max",
        METRIC,
        _custom("has(self.min) || has(self.max)"),
        "needs min or max",
        _metric({"name": "errors", "query": "sum(x)"}),
    ),
    Twin(
        "custom-without-maxMs",
        METRIC,
        _custom("!has(self.maxMs)"),
        "maxMs is for latency-p99",
        _metric({"name": "errors", "query": "sum(x)", "max": 1, "maxMs": 5}),
    ),
]
TWINS = [pytest.param(twin, id=twin.id) for twin in TWIN_ROWS]


def _message(path: str, rule: str) -> str:
    (message,) = [
        validation["message"]
        for validation in crd_node(path).get("x-kubernetes-validations", [])
        if validation["rule"] == rule
    ]
    return str(message)


@pytest.mark.parametrize("twin", TWINS)
def test_the_crd_and_the_model_refuse_for_the_same_reason(twin: Twin) -> None:
    message = _message(twin.path, twin.rule)
    # The CRD's message is the model's reason, then what to do about it.
    _, reason, what_to_do = message.partition(twin.reason)
    assert reason, message
    assert what_to_do.startswith(": "), message
    with pytest.raises(ValidationError) as excinfo:
        MicroserviceSpec.model_validate({"image": "shopmesh/cart:1.0", "rollout": twin.rollout})
    assert twin.reason in str(excinfo.value)


def test_the_built_in_metric_names_are_the_models() -> None:
    assert BUILT_IN == BUILTIN_METRICS


def test_every_rollout_rule_is_in_the_table() -> None:
    """A new CEL rule of the rollout, the canary or the blue-green release comes with
    its model twin, or this fails (blueGreen.analysis is canary.analysis: see below)."""
    twins = {(twin.path, twin.rule) for twin in TWIN_ROWS}
    crd_rules = {
        (path, validation["rule"])
        for path in (ROLLOUT, CANARY, STEP, ANALYSIS, METRIC, BLUE_GREEN)
        for validation in crd_node(path).get("x-kubernetes-validations", [])
    }
    assert crd_rules == twins


def test_blue_green_analysis_is_the_canary_analysis() -> None:
    """One analysis schema, fields and CEL rules, for both strategies, as one
    `Analysis` model; only the description says when it is measured."""
    canary, blue_green = crd_node(ANALYSIS), crd_node(BLUE_GREEN_ANALYSIS)
    assert {**blue_green, "description": ""} == {**canary, "description": ""}


ANALYSIS_TWINS = [
    pytest.param(twin, id=twin.id) for twin in TWIN_ROWS if twin.path in (ANALYSIS, METRIC)
]


@pytest.mark.parametrize("twin", ANALYSIS_TWINS)
def test_a_blue_green_analysis_is_refused_for_the_same_reason(twin: Twin) -> None:
    path = twin.path.replace(ANALYSIS, BLUE_GREEN_ANALYSIS)
    assert _message(path, twin.rule) == _message(twin.path, twin.rule)
    rollout = _blue_green(analysis=twin.rollout["canary"]["analysis"])
    with pytest.raises(ValidationError) as excinfo:
        MicroserviceSpec.model_validate({"image": "shopmesh/cart:1.0", "rollout": rollout})
    assert twin.reason in str(excinfo.value)


#: The CEL rules of spec.rollout as Python, over the rollout as CEL sees it (after
#: the API server's defaulting, so `strategy` is always set).
ROLLOUT_MIRROR: dict[str, Callable[[dict[str, Any]], bool]] = {
    'self.strategy != "Canary" || has(self.canary)': lambda r: (
        r["strategy"] != "Canary" or "canary" in r
    ),
    '!has(self.canary) || self.strategy == "Canary"': lambda r: (
        "canary" not in r or r["strategy"] == "Canary"
    ),
    '!has(self.blueGreen) || self.strategy == "BlueGreen"': lambda r: (
        "blueGreen" not in r or r["strategy"] == "BlueGreen"
    ),
}


def test_the_mirrored_rollout_rules_are_the_crds() -> None:
    assert set(ROLLOUT_MIRROR) == set(cel_rules(ROLLOUT))
    assert crd_node(f"{ROLLOUT}.strategy")["default"] == "Rolling"


@pytest.mark.parametrize(
    "twin", [pytest.param(twin, id=twin.id) for twin in TWIN_ROWS if twin.path == ROLLOUT]
)
def test_the_mirror_refuses_the_bad_rollouts(twin: Twin) -> None:
    assert not ROLLOUT_MIRROR[twin.rule]({"strategy": "Rolling", **twin.rollout})


@pytest.mark.parametrize(
    "rollout",
    [
        pytest.param({}, id="rolling-by-default"),
        pytest.param(_canary(), id="canary"),
        pytest.param({"strategy": "BlueGreen"}, id="blue-green-without-settings"),
        pytest.param(_blue_green(), id="blue-green-empty-settings"),
        pytest.param(
            _blue_green(
                autoPromotionSeconds=0,
                scaleDownDelaySeconds=86400,
                prePromotionMeasurements=100,
                analysis={
                    "interval": "1h",
                    "metrics": [
                        {"name": "success-rate", "min": 99},
                        {"name": "latency-p99", "maxMs": 500},
                        {"name": "errors", "query": "sum(x)", "max": 1},
                    ],
                },
            ),
            id="blue-green-every-setting",
        ),
    ],
)
def test_a_good_rollout_passes_the_rollout_rules_and_the_model(rollout: dict[str, Any]) -> None:
    defaulted = {"strategy": "Rolling", **rollout}
    assert [rule for rule, admits in ROLLOUT_MIRROR.items() if not admits(defaulted)] == []
    spec = MicroserviceSpec.model_validate({"image": "shopmesh/cart:1.0", "rollout": rollout})
    assert spec.rollout.strategy == defaulted["strategy"]


def test_metric_names_are_unique_by_list_map_as_in_the_model() -> None:
    """The API server refuses a metric named twice (a list map keyed by name),
    as `Analysis` does, so the two never disagree on which one counts."""
    metrics = crd_node(ANALYSIS)["properties"]["metrics"]
    assert metrics["x-kubernetes-list-type"] == "map"
    assert metrics["x-kubernetes-list-map-keys"] == ["name"]
    assert "name" in metrics["items"]["required"]
    twice = [{"name": "success-rate", "min": 99}, {"name": "success-rate", "min": 95}]
    with pytest.raises(ValidationError, match=re.escape("analysis.metrics: each name once")):
        MicroserviceSpec.model_validate(
            {"image": "shopmesh/cart:1.0", "rollout": _canary(analysis={"metrics": twice})}
        )
