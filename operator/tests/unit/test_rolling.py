"""rolling.plan_rolling: which pod template the Deployment gets (the spec's, an earlier
one to roll back to, or the one a user undid to), and release_status: what
status.rollout remembers. Pure: Microservices, templates and ReplicaSets in, a plan out."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.models import HeldRelease, Release
from shopmesh_operator.render import build_deployment
from shopmesh_operator.rolling import HISTORY_LENGTH, needs_history, plan_rolling, release_status

from .rolling_support import cart, past_deadline, replica_set

NOW = "2026-12-03T12:00:00Z"
V1, V2, V3 = "shop/cart:1", "shop/cart:2", "shop/cart:3"


def _judged(generation: int, **rollout: Any) -> dict[str, Any]:
    """A status that judged `generation` (the last pass saw this spec)."""
    return {"observedGeneration": generation, "rollout": rollout}


def _live(image: str, *, stuck: bool = False) -> dict[str, Any]:
    deployment = {**build_deployment(cart(image)), "status": {}}
    deployment["metadata"] = {**deployment["metadata"], "generation": 4}
    deployment["status"] = {"observedGeneration": 4}
    return past_deadline(deployment) if stuck else deployment


def _plan(spec_image: str, live: dict[str, Any] | None, sets: list[dict[str, Any]], **status: Any):  # type: ignore[no-untyped-def]
    ms = cart(spec_image, generation=2, status=_judged(2, **status) if status or live else None)
    return plan_rolling(ms, build_deployment(ms), live, sets, now=NOW)


def _running(plan: Any) -> str:
    return str(plan.deployment["spec"]["template"]["spec"]["containers"][0]["image"])


# (case, spec image, live image, stuck, ReplicaSets, stable image) -> (image applied, held reason)
CASES = [
    ("first pass: nothing live", V2, None, False, [], None, V2, None),
    ("in line with the spec", V2, V2, False, [replica_set(V2, 1)], None, V2, None),
    (
        "undo before the controller caught up: v1's revision is older",
        V2,
        V1,
        False,
        [replica_set(V1, 1), replica_set(V2, 2)],
        None,
        V1,
        "RolloutUndone",
    ),
    (
        "undo after the controller re-used v1's ReplicaSet",
        V2,
        V1,
        False,
        [replica_set(V1, 3, history="1"), replica_set(V2, 2)],
        None,
        V1,
        "RolloutUndone",
    ),
    (
        "drift: a template no earlier revision had is repaired",
        V2,
        "evil:1",
        False,
        [replica_set(V2, 1)],
        None,
        V2,
        None,
    ),
    (
        "drift: kubectl set image makes a newest revision, still repaired",
        V2,
        "evil:1",
        False,
        [replica_set(V2, 1), replica_set("evil:1", 2)],
        None,
        V2,
        None,
    ),
    (
        "past the deadline: back to the previous revision",
        V2,
        V2,
        True,
        [replica_set(V1, 1), replica_set(V2, 2)],
        None,
        V1,
        "RolledBack",
    ),
    (
        "past the deadline: back to the stable image, not a newer failed one",
        V3,
        V3,
        True,
        [replica_set(V1, 1), replica_set(V2, 2), replica_set(V3, 3)],
        V1,
        V1,
        "RolledBack",
    ),
    (
        "past the deadline on a first release: nothing to go back to",
        V2,
        V2,
        True,
        [replica_set(V2, 1)],
        None,
        V2,
        None,
    ),
]


@pytest.mark.parametrize(
    ("spec_image", "live_image", "stuck", "sets", "stable", "applied", "held"),
    [pytest.param(*row[1:], id=row[0]) for row in CASES],
)
def test_the_template_applied(
    spec_image: str,
    live_image: str | None,
    stuck: bool,
    sets: list[dict[str, Any]],
    stable: str | None,
    applied: str,
    held: str | None,
) -> None:
    live = _live(live_image, stuck=stuck) if live_image else None
    status = {"stableImage": stable} if stable else {}
    plan = _plan(spec_image, live, sets, **status)
    assert _running(plan) == applied
    assert (plan.held.reason if plan.held else None) == held
    assert plan.rolls_back == (held == "RolledBack")
    if plan.held:
        assert plan.held.running_image == applied
        assert plan.held.generation == 2


def test_a_rollback_says_what_failed_and_where_it_went() -> None:
    plan = _plan(V2, _live(V2, stuck=True), [replica_set(V1, 1), replica_set(V2, 2)])
    assert plan.held is not None
    assert plan.held.message == (
        f"{V2} did not become ready within 600s; rolled back to {V1}. "
        "Change the spec to release again"
    )


def test_an_undo_says_which_image_runs() -> None:
    plan = _plan(V2, _live(V1), [replica_set(V1, 1), replica_set(V2, 2)])
    assert plan.held is not None
    assert plan.held.message.startswith(f"kubectl rollout undo: {V1} runs, the spec asks for {V2}")


def test_a_held_template_is_the_live_one_so_nothing_is_written() -> None:
    live = _live(V1)
    plan = _plan(V2, live, [replica_set(V1, 1), replica_set(V2, 2)])
    assert plan.deployment["spec"]["template"] == live["spec"]["template"]


def test_a_rolled_back_release_stays_rolled_back_not_undone() -> None:
    before = HeldRelease(
        generation=2, reason="RolledBack", running_image=V1, message="rolled back", at=NOW
    )
    ms = cart(V2, generation=2, status=_judged(2, held=before.model_dump(by_alias=True)))
    plan = plan_rolling(
        ms, build_deployment(ms), _live(V1), [replica_set(V1, 3, history="1")], now=NOW
    )
    assert plan.held == before
    assert not plan.rolls_back


def test_a_new_spec_is_a_new_release_even_while_one_is_held() -> None:
    held = HeldRelease(generation=2, reason="RolledBack", running_image=V1, message="", at=NOW)
    ms = cart(V3, generation=3, status=_judged(2, held=held.model_dump(by_alias=True)))
    plan = plan_rolling(ms, build_deployment(ms), _live(V1), [replica_set(V1, 3)], now=NOW)
    assert _running(plan) == V3
    assert plan.held is None


@pytest.mark.parametrize(
    ("live_image", "stuck", "spec_changed", "needed"),
    [
        pytest.param(V2, False, False, False, id="idle: no extra read"),
        pytest.param(V1, False, False, True, id="template changed under us"),
        pytest.param(V2, True, False, True, id="past the deadline"),
        pytest.param(V1, False, True, False, id="a new spec: applied as rendered"),
    ],
)
def test_replica_sets_are_read_only_when_needed(
    live_image: str, stuck: bool, spec_changed: bool, needed: bool
) -> None:
    ms = cart(V2, generation=2, status=_judged(1 if spec_changed else 2))
    assert needs_history(ms, build_deployment(ms), _live(live_image, stuck=stuck)) is needed


def test_release_history_records_each_outcome_once_and_keeps_the_last_ten() -> None:
    history = [
        Release(generation=g, image=V1, outcome="Released", at=NOW).model_dump(by_alias=True)
        for g in range(1, HISTORY_LENGTH + 1)
    ]
    ms = cart(V2, generation=11, status=_judged(11, stableImage=V1, history=history))
    released = release_status(ms, None, available=True, now=NOW)
    assert released.stable_image == V2
    assert len(released.history) == HISTORY_LENGTH
    assert released.history[-1] == Release(generation=11, image=V2, outcome="Released", at=NOW)
    assert released.history[0].generation == 2
    again = cart(V2, generation=11, status={"rollout": released.model_dump(by_alias=True)})
    assert release_status(again, None, available=True, now=NOW) == released


def test_a_held_release_keeps_the_stable_image() -> None:
    held = HeldRelease(generation=3, reason="RolledBack", running_image=V1, message="", at=NOW)
    ms = cart(V2, generation=3, status=_judged(3, stableImage=V1))
    rollout = release_status(ms, held, available=False, now=NOW)
    assert rollout.stable_image == V1
    assert rollout.held == held
    assert rollout.history == (Release(generation=3, image=V2, outcome="RolledBack", at=NOW),)


def test_nothing_available_yet_records_nothing() -> None:
    ms = cart(V2, generation=1)
    rollout = release_status(ms, None, available=False, now=NOW)
    assert rollout.stable_image is None
    assert rollout.history == ()
