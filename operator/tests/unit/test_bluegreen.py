"""The BlueGreen release, pure: the step machine of canary.py walking steps.py's fixed
blue-green steps, and the plan (plan.py) moving the Service's selector at the switch.

The release used throughout: shop/cart, 2 stable pods running V1, generation 2 asks
for V2; autoPromotionSeconds 20 where it says so, scaleDownDelaySeconds 30.
"""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator import constants as c
from shopmesh_operator.analysis import judge
from shopmesh_operator.canary import CanaryPlan, measurement_due
from shopmesh_operator.models import AnalysisMetric, Microservice
from shopmesh_operator.plan import Observations, plan_children
from shopmesh_operator.render import build_canary_deployment, build_deployment
from shopmesh_operator.steering import ANNOTATION, Command
from shopmesh_operator.steps import describe_step, release_steps

from .canary_support import (
    ANALYSIS,
    T0,
    V1,
    V2,
    at,
    available,
    blue_green_spec,
    image_of,
    releasing,
    stable_running,
)
from .canary_support import (
    plan_at as plan,
)

AUTO = {"autoPromotionSeconds": 20, "scaleDownDelaySeconds": 30}
MANUAL = {"scaleDownDelaySeconds": 30}
SUCCESS = AnalysisMetric(name="success-rate", min=99)


def blue_green(
    settings: dict[str, Any] | None = None, release: dict[str, Any] | None = None, **more: Any
) -> Microservice:
    """cart releasing V2 blue-green; `release`: status.rollout.release on the wire."""
    rollout = {"release": release} if release is not None else None
    spec = blue_green_spec(V2, **(settings if settings is not None else MANUAL))
    return releasing(V2, observed=2 if release else 1, rollout=rollout, spec=spec, **more)


def state(step: int, weight: int = 0, *, started: int = 0, **more: Any) -> dict[str, Any]:
    return {
        "strategy": "BlueGreen",
        "generation": 2,
        "image": V2,
        "step": step,
        "stepStartedAt": at(started),
        "weight": weight,
        **more,
    }


def preview_running(ms: Microservice, replicas: int = 2) -> dict[str, Any]:
    return available(build_canary_deployment(ms, replicas))


def selector_of(ms: Microservice, preview: dict[str, Any] | None, now: int = 0) -> dict[str, str]:
    """The `cart` Service's selector in the plan of this pass."""
    seen = Observations(deployment=stable_running(V1), canary=preview, now=at(now))
    children = plan_children(ms, seen).children
    service = next(
        m for m in children if m["kind"] == "Service" and m["metadata"]["name"] == "cart"
    )
    return dict(service["spec"]["selector"])


def reasons(result: CanaryPlan) -> list[str]:
    return [event.reason for event in result.events]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (MANUAL, ["preview", "pause until promoted", "switch", "scale-down delay 30s"]),
        (AUTO, ["preview", "auto-promotion after 20s", "switch", "scale-down delay 30s"]),
        (
            {"autoPromotionSeconds": 0, "scaleDownDelaySeconds": 0},
            ["preview", "auto-promotion after 0s", "switch"],
        ),
        (
            {"analysis": ANALYSIS, "prePromotionMeasurements": 2},
            ["preview", "analysis x2", "pause until promoted", "switch", "scale-down delay 30s"],
        ),
    ],
    ids=["manual", "auto", "no delays", "analysis"],
)
def test_the_blue_green_steps(settings: dict[str, Any], expected: list[str]) -> None:
    rollout = blue_green(settings).spec.rollout
    steps = release_steps(rollout)
    assert [describe_step(rollout, i) for i in range(len(steps))] == expected


def test_a_new_generation_starts_a_preview_as_large_as_the_active_side() -> None:
    ms = blue_green()
    result = plan(ms)

    assert result.state is not None
    assert (result.state.strategy, result.state.step, result.state.weight) == ("BlueGreen", 0, 0)
    assert image_of(result.deployment) == V1  # the active side keeps its template
    assert result.canary is not None
    assert result.canary["metadata"]["name"] == "cart-preview"
    assert result.canary["spec"]["replicas"] == 2
    labels = result.canary["spec"]["template"]["metadata"]["labels"]
    assert labels[c.LABEL_TRACK] == c.TRACK_PREVIEW
    assert reasons(result) == ["ReleaseStarted", "CanaryStep"]
    assert "preview of" in result.events[0].message
    assert selector_of(ms, None)[c.LABEL_TRACK] == c.TRACK_STABLE


def test_the_preview_service_selects_the_preview_pods() -> None:
    ms = blue_green()
    children = plan_children(ms, Observations(deployment=stable_running(V1), now=at(0))).children
    services = {
        m["metadata"]["name"]: m["spec"]["selector"] for m in children if m["kind"] == "Service"
    }
    assert services["cart-preview"][c.LABEL_TRACK] == c.TRACK_PREVIEW
    assert services["cart"][c.LABEL_TRACK] == c.TRACK_STABLE


@pytest.mark.parametrize(
    ("settings", "release", "now", "step", "weight", "paused", "recheck"),
    [
        # the preview is not available yet: still previewing, until the progress deadline
        (MANUAL, state(0), 5, 0, 0, None, 595.0),
        # manual: once the preview is available, the release waits for a person
        (MANUAL, state(0), 5, 1, 0, "PauseStep", None),
        # auto: the auto-promotion clock starts when the preview is available
        (AUTO, state(0), 5, 1, 0, None, 20.0),
        (AUTO, state(1, started=5), 15, 1, 0, None, 10.0),
        # its time is up: the switch (weight 100), then the scale-down delay
        (AUTO, state(1, started=5), 25, 3, 100, None, 30.0),
        # the delay is up: promoting (the stable Deployment takes the new template)
        (AUTO, state(3, 100, started=25), 55, 4, 100, None, None),
    ],
    ids=["preview not ready", "manual waits", "auto starts", "auto waits", "switch", "delay up"],
)
def test_the_steps_are_walked(
    settings: dict[str, Any],
    release: dict[str, Any],
    now: int,
    step: int,
    weight: int,
    paused: str | None,
    recheck: float | None,
) -> None:
    ms = blue_green(settings, release)
    ready = preview_running(ms) if (step, paused) != (0, None) else None
    result = plan(ms, canary=ready, now=now)

    assert result.state is not None
    assert (result.state.step, result.state.weight, result.state.paused) == (step, weight, paused)
    assert result.recheck_in == recheck
    expected = c.TRACK_PREVIEW if weight == 100 else c.TRACK_STABLE
    assert selector_of(ms, ready, now)[c.LABEL_TRACK] == expected
    if step == 4:
        assert image_of(result.deployment) == V2  # the stable side rolls while the preview serves
    else:
        assert image_of(result.deployment) == V1


def test_a_promote_command_switches() -> None:
    command = Command(id="p1", verb="promote")
    ms = blue_green(
        release=state(1, paused="PauseStep"), annotations={ANNOTATION: command.encode()}
    )
    result = plan(ms, canary=preview_running(ms), now=40)

    assert result.state is not None
    assert (result.state.step, result.state.weight) == (3, 100)
    assert result.steered == "p1"
    assert "PromotedByUser" in reasons(result)


def test_promoted_once_the_stable_side_runs_the_new_version() -> None:
    ms = blue_green(release=state(4, 100, started=55))
    stable = available(build_deployment(ms))  # the stable Deployment rolled out V2
    result = plan(ms, canary=preview_running(ms), stable=stable, now=70)

    assert result.state is None
    assert result.canary is None  # the preview goes (prune), the Service selects stable again
    assert reasons(result) == ["Promoted"]


@pytest.mark.parametrize(
    ("release", "now"),
    [(state(1, paused="PauseStep"), 40), (state(3, 100, started=25), 40)],
    ids=["before the switch", "during the scale-down delay"],
)
def test_an_abort_returns_everything_to_the_active_version_at_once(
    release: dict[str, Any], now: int
) -> None:
    command = Command(id="a1", verb="abort")
    ms = blue_green(release=release, annotations={ANNOTATION: command.encode()})
    result = plan(ms, canary=preview_running(ms), now=now)

    assert result.held is not None
    assert result.held.reason == "Aborted"
    assert result.canary is None
    assert result.weight == 0
    assert image_of(result.deployment) == V1


def test_a_preview_that_never_becomes_available_is_aborted_at_the_deadline() -> None:
    ms = blue_green(release=state(0))
    waiting = plan(ms, canary=None, now=100)
    assert waiting.held is None
    assert waiting.recheck_in == 500.0

    result = plan(ms, canary=None, now=600)
    assert result.held is not None
    assert "the preview's pods did not become available within 600s" in result.held.message


def test_the_preview_is_measured_before_promotion_and_a_failure_aborts() -> None:
    settings = {"analysis": {**ANALYSIS, "failureLimit": 1}, "prePromotionMeasurements": 2}
    ms = blue_green(settings, state(1, analysis={"measuredAt": at(0)}))
    assert measurement_due(ms, at(10))  # weight 0, yet the preview has pods to measure

    bad = (judge(SUCCESS, 50.0, 100, min_requests=10, at=T0),)
    result = plan(ms, canary=preview_running(ms), measurements=bad, now=10)
    assert result.held is not None
    assert "success-rate" in result.held.message
    assert result.canary is None


def test_passing_measurements_lead_to_the_promotion_step() -> None:
    settings = {"analysis": ANALYSIS, "prePromotionMeasurements": 2}
    ms = blue_green(settings, state(1, analysis={"measuredAt": at(0), "passes": 1}))
    good = (judge(SUCCESS, 100.0, 100, min_requests=10, at=T0),)
    result = plan(ms, canary=preview_running(ms), measurements=good, now=10)

    assert result.state is not None
    assert (result.state.step, result.state.paused) == (2, "PauseStep")
