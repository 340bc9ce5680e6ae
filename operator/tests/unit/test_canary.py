"""The Canary step function, pure: from a Microservice, the live Deployments, the
measurements and a time, the Deployments to sync and the new release state.

The release used throughout (canary_support.STEPS): setWeight 20, pause 30s, analysis
x2, setWeight 50, pause until promoted; analysis every 10s, failureLimit 2.
"""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.analysis import judge
from shopmesh_operator.canary import CanaryPlan, CanarySeen, measurement_due, plan_canary
from shopmesh_operator.models import AnalysisMetric, Measurement, Microservice
from shopmesh_operator.render import build_deployment
from shopmesh_operator.steering import ANNOTATION, Command

from .canary_support import (
    T0,
    V1,
    V2,
    V3,
    at,
    blue_green_spec,
    canary_running,
    image_of,
    releasing,
    stable_running,
)
from .canary_support import (
    plan_at as plan,
)

SUCCESS = AnalysisMetric(name="success-rate", min=99)
LATENCY = AnalysisMetric(name="latency-p99", max_ms=500)


def state(step: int, weight: int, *, started: int = 0, **more: Any) -> dict[str, Any]:
    """status.rollout.release on the wire: generation 2 releasing V2."""
    return {
        "generation": 2,
        "image": V2,
        "step": step,
        "stepStartedAt": at(started),
        "weight": weight,
        **more,
    }


def in_release(step: int, weight: int, **more: Any) -> Microservice:
    return releasing(observed=2, rollout={"release": state(step, weight, **more)})


def reasons(result: CanaryPlan) -> list[str]:
    return [event.reason for event in result.events]


def measured(success: float, latency: float, requests: float = 100) -> tuple[Measurement, ...]:
    return (
        judge(SUCCESS, success, requests, min_requests=10, at=T0),
        judge(LATENCY, latency, requests, min_requests=10, at=T0),
    )


def test_a_new_generation_starts_a_release_beside_the_stable_deployment() -> None:
    result = plan(releasing())

    assert result.state is not None
    assert (result.state.step, result.state.weight, result.state.image) == (0, 20, V2)
    assert image_of(result.deployment) == V1  # the stable side keeps its template
    assert result.canary is not None
    assert image_of(result.canary) == V2
    assert result.canary["metadata"]["name"] == "cart-canary"
    assert result.canary["spec"]["replicas"] == 1  # 20% beside 2 stable pods
    assert reasons(result) == ["ReleaseStarted", "CanaryStep"]
    assert result.progress is not None
    assert "step 1/5 (setWeight 20)" in result.progress


def test_the_weight_step_waits_for_the_canary_pods() -> None:
    result = plan(in_release(0, 20), canary=None, now=5)

    assert result.state is not None
    assert result.state.step == 0
    assert result.events == ()


@pytest.mark.parametrize(
    ("step", "weight", "now", "canary_pods", "expected_step", "recheck"),
    [
        # setWeight 20 done once its pod is available; pause 30s starts, but the next
        # measurement (every 10 s) comes first
        (0, 20, 5, 1, 1, 10.0),
        # pause 30s started at 0: still 10 s to go at 20
        (1, 20, 20, 1, 1, 10.0),
        # pause over at 30; the analysis step waits for its passes
        (1, 20, 30, 1, 2, None),
    ],
)
def test_steps_are_walked_in_order(
    step: int,
    weight: int,
    now: int,
    canary_pods: int,
    expected_step: int,
    recheck: float | None,
) -> None:
    ms = in_release(step, weight, analysis={"measuredAt": at(now)})
    result = plan(ms, canary=canary_running(canary_pods), now=now)

    assert result.state is not None
    assert result.state.step == expected_step
    if recheck is not None:
        assert result.recheck_in == pytest.approx(recheck)


def test_an_analysis_step_is_done_after_its_passes_in_a_row() -> None:
    ms = in_release(2, 20, analysis={"measuredAt": at(30), "passes": 1})
    result = plan(ms, canary=canary_running(1), measurements=measured(100, 40), now=40)

    assert result.state is not None
    assert result.state.step == 3
    assert result.state.weight == 50
    assert result.canary is not None
    assert result.canary["spec"]["replicas"] == 2
    assert reasons(result) == ["AnalysisPassed", "CanaryStep"]


def test_a_failed_measurement_counts_and_the_limit_aborts() -> None:
    ms = in_release(2, 20, analysis={"measuredAt": at(30), "failures": 0})
    first = plan(ms, canary=canary_running(1), measurements=measured(50, 40), now=40)
    assert first.state is not None
    assert first.state.analysis.failures == 1
    assert first.held is None
    assert reasons(first) == ["AnalysisFailed"]

    ms = in_release(2, 20, analysis={"measuredAt": at(30), "failures": 1})
    second = plan(ms, canary=canary_running(1), measurements=measured(50, 40), now=40)

    assert second.state is None
    assert second.canary is None
    assert second.weight == 0
    assert second.held is not None
    assert second.held.reason == "Aborted"
    assert image_of(second.deployment) == V1
    for part in ("success-rate 50", ">= 99%", "100 requests"):
        assert part in second.held.message
    assert reasons(second) == ["AnalysisFailed", "Aborted"]


def test_too_little_traffic_is_inconclusive_and_pauses() -> None:
    ms = in_release(2, 20, analysis={"measuredAt": at(30), "passes": 1})
    few = measured(100, 40, requests=3)
    result = plan(ms, canary=canary_running(1), measurements=few, now=40)

    assert result.state is not None
    assert result.state.paused == "Inconclusive"
    assert "fewer than minRequests 10" in result.state.pause_message
    assert result.state.analysis.passes == 0
    assert result.state.step == 2
    assert reasons(result) == ["AnalysisInconclusive"]


def test_a_pause_without_duration_waits_for_promote() -> None:
    ms = in_release(4, 50, analysis={"measuredAt": at(0)})
    waiting = plan(ms, canary=canary_running(2), now=100)
    assert waiting.state is not None
    assert waiting.state.paused == "PauseStep"

    command = Command(id="c1", verb="promote")
    ms = releasing(
        observed=2,
        rollout={"release": state(4, 50, paused="PauseStep")},
        annotations={ANNOTATION: command.encode()},
    )
    promoted = plan(ms, canary=canary_running(2), now=101)

    assert promoted.steered == "c1"
    assert promoted.state is not None
    assert promoted.state.step == 5
    assert image_of(promoted.deployment) == V2  # the stable side rolls to the new image
    assert promoted.canary is not None  # and the canary serves until it has
    assert reasons(promoted) == ["PromotedByUser", "Promoting"]


def test_promotion_ends_when_the_stable_deployment_has_rolled_out() -> None:
    ms = in_release(5, 50)
    result = plan(ms, stable=stable_running(V2), canary=canary_running(2), now=200)

    assert result.state is None
    assert result.canary is None
    assert result.weight == 0
    assert image_of(result.deployment) == V2
    assert reasons(result) == ["Promoted"]


@pytest.mark.parametrize(
    ("verb", "full", "expected"),
    [
        ("promote", False, {"step": 2, "paused": None}),
        ("promote", True, {"step": 5, "paused": None}),
        ("pause", False, {"step": 1, "paused": "Paused"}),
    ],
)
def test_commands_steer_the_release(verb: str, full: bool, expected: dict[str, Any]) -> None:
    command = Command(id="c7", verb=verb, full=full)  # type: ignore[arg-type]
    ms = releasing(
        observed=2,
        rollout={"release": state(1, 20)},
        annotations={ANNOTATION: command.encode()},
    )
    result = plan(ms, canary=canary_running(1), now=5)

    assert result.steered == "c7"
    assert result.state is not None
    assert {"step": result.state.step, "paused": result.state.paused} == expected


def test_a_command_is_carried_out_once() -> None:
    command = Command(id="c7", verb="promote")
    ms = releasing(
        observed=2,
        rollout={"release": state(1, 20), "steered": "c7"},
        annotations={ANNOTATION: command.encode()},
    )
    result = plan(ms, canary=canary_running(1), now=5)

    assert result.state is not None
    assert result.state.step == 1


def test_abort_and_retry() -> None:
    abort = Command(id="a1", verb="abort")
    ms = releasing(
        observed=2, rollout={"release": state(1, 20)}, annotations={ANNOTATION: abort.encode()}
    )
    aborted = plan(ms, canary=canary_running(1), now=5)
    assert aborted.held is not None
    assert aborted.held.reason == "Aborted"
    assert "kubectl shopmesh abort" in aborted.held.message
    assert aborted.canary is None
    assert image_of(aborted.deployment) == V1

    held = aborted.held.model_dump(by_alias=True)
    still = plan(releasing(observed=2, rollout={"held": held, "steered": "a1"}), now=10)
    assert still.held is not None
    assert still.state is None
    assert still.canary is None

    retry = Command(id="r1", verb="retry")
    ms = releasing(
        observed=2,
        rollout={"held": held, "steered": "a1"},
        annotations={ANNOTATION: retry.encode()},
    )
    again = plan(ms, now=20)
    assert again.held is None
    assert again.state is not None
    assert again.state.step == 0
    assert again.canary is not None
    assert reasons(again) == ["Retried", "CanaryStep"]


def test_a_new_generation_supersedes_the_release_in_progress() -> None:
    body_state = state(3, 50)
    ms = releasing(V3, generation=3, observed=2, rollout={"release": body_state})
    result = plan(ms, canary=canary_running(2), now=50)

    assert result.state is not None
    assert (result.state.generation, result.state.image, result.state.step) == (3, V3, 0)
    assert result.canary is not None
    assert image_of(result.canary) == V3
    assert "replacing the release of generation 2" in result.events[0].message


def test_canary_pods_that_never_become_available_abort_the_release() -> None:
    ms = in_release(0, 20)
    result = plan(ms, canary=None, now=601)  # progressDeadlineSeconds defaults to 600

    assert result.held is not None
    assert "did not become available within 600s" in result.held.message


def test_a_pass_repeated_with_the_same_inputs_changes_nothing() -> None:
    """What an operator restarted mid-release does: the status says where it was."""
    ms = in_release(1, 20, started=0, analysis={"measuredAt": at(5)})
    first = plan(ms, canary=canary_running(1), now=12)
    again = plan(ms, canary=canary_running(1), now=12)

    assert first.state == again.state
    assert first.state is not None
    assert first.state.step == 1
    assert first.events == () == again.events


@pytest.mark.parametrize(
    ("rollout", "now", "due"),
    [
        ({"release": state(1, 20, analysis={"measuredAt": at(0)})}, 10, True),
        ({"release": state(1, 20, analysis={"measuredAt": at(0)})}, 9, False),
        ({"release": state(1, 20)}, 100, False),  # the window has not opened
        ({"release": state(0, 0, analysis={"measuredAt": at(0)})}, 100, False),  # no traffic
        ({"release": state(1, 20, paused="Paused", analysis={"measuredAt": at(0)})}, 100, False),
        ({"release": state(5, 50, analysis={"measuredAt": at(0)})}, 100, False),  # promoting
        ({}, 100, False),
    ],
)
def test_measurement_due(rollout: dict[str, Any], now: int, due: bool) -> None:
    assert measurement_due(releasing(observed=2, rollout=rollout), at(now)) is due


def test_the_rolling_strategy_is_not_a_canary() -> None:
    ms = releasing()
    rolling = ms.model_copy(
        update={"spec": ms.spec.model_copy(update={"rollout": type(ms.spec.rollout)()})}
    )
    result = plan_canary(
        rolling,
        build_deployment(rolling),
        CanarySeen(stable=stable_running(V1), canary=None, now=T0),
    )

    assert result.state is None
    assert result.canary is None
    assert image_of(result.deployment) == V2


BLUE_GREEN = blue_green_spec(autoPromotionSeconds=10, scaleDownDelaySeconds=30)


@pytest.mark.parametrize(
    ("spec", "release", "canary", "now", "step"),
    [
        pytest.param(None, state(0, 20), None, 5, 0, id="setWeight-pods-starting"),
        pytest.param(None, state(1, 20), canary_running(1), 15, 1, id="pause-30s-half-way"),
        pytest.param(
            None,
            state(2, 20, started=30, analysis={"measuredAt": at(40), "passes": 1}),
            canary_running(1),
            45,
            2,
            id="analysis-one-pass-in",
        ),
        pytest.param(None, state(3, 50, started=60), canary_running(1), 65, 3, id="setWeight-50"),
        pytest.param(
            None,
            state(4, 50, started=70, paused="PauseStep", pauseMessage="waiting"),
            canary_running(2),
            200,
            4,
            id="pause-until-promoted",
        ),
        pytest.param(BLUE_GREEN, state(0, 0), None, 5, 0, id="bluegreen-preview-starting"),
        pytest.param(
            BLUE_GREEN, state(1, 0), canary_running(2), 5, 1, id="bluegreen-auto-promotion"
        ),
        pytest.param(
            BLUE_GREEN, state(3, 100, started=20), canary_running(2), 30, 3, id="bluegreen-delay"
        ),
    ],
)
def test_an_operator_restarted_at_any_step_resumes_exactly_there(
    spec: dict[str, Any] | None,
    release: dict[str, Any],
    canary: dict[str, Any] | None,
    now: int,
    step: int,
) -> None:
    """A new operator knows only the status: it neither repeats the step (no second
    step Event, no reset of the step's start) nor skips it, and two passes agree."""
    ms = releasing(observed=2, rollout={"release": release}, spec=spec)
    first = plan(ms, canary=canary, now=now)
    again = plan(ms, canary=canary, now=now)

    assert first.state is not None
    assert first.held is None
    assert first.state.step == step
    assert first.state.step_started_at == ms.status.rollout.release.step_started_at
    assert "CanaryStep" not in reasons(first)
    assert first.state == again.state


def test_a_restarted_operator_moves_on_once_when_the_step_is_done() -> None:
    ms = in_release(1, 20)  # the 30 s pause began at 0; the operator comes back at 31
    result = plan(ms, canary=canary_running(1), now=31)

    assert result.state is not None
    assert result.state.step == 2
    assert reasons(result) == ["CanaryStep"]
    assert "step 3/5: analysis x2" in result.events[0].message
