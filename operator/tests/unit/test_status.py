"""Table tests for status.py: the Microservice phase and conditions computed from
the live Deployment, transition times that move only on a status change, and the
Failed status written when the API refuses a child."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.models import Condition, MicroserviceStatus
from shopmesh_operator.status import calculate_failed_status, calculate_status, status_patch

from .status_support import DEADLINE, NOW, T0
from .status_support import deployment_body as _deployment
from .status_support import microservice as _ms

STILL_PROGRESSING = {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}


FLAGS = {"T": "True", "F": "False"}


# `conditions` spells the status of Ready, Progressing, Degraded and OutOfSync, in that order.
@pytest.mark.parametrize(
    ("replicas", "deployment", "phase", "conditions", "reason"),
    [
        pytest.param(3, None, "Pending", "FTFF", "DeploymentMissing", id="no-deployment"),
        pytest.param(3, _deployment(), "Ready", "TFFF", "Available", id="caught-up-all-available"),
        pytest.param(3, _deployment(conditions=(STILL_PROGRESSING,)), "Ready", "TFFF", "Available",
                     id="healthy-progressing-condition-ignored"),
        pytest.param(3, _deployment(available=2), "Progressing", "FTFF", "RollingOut",
                     id="fewer-available"),
        pytest.param(3, _deployment(updated=2), "Progressing", "FTFF", "RollingOut",
                     id="fewer-updated"),
        pytest.param(3, _deployment(replicas=4), "Progressing", "FTFF", "RollingOut",
                     id="old-pod-still-running"),
        pytest.param(3, _deployment(observed=4), "Progressing", "FTFF", "RollingOut",
                     id="observed-generation-behind"),
        pytest.param(3, _deployment(image="shopmesh/cart:0.9"), "Progressing", "FTFF", "RollingOut",
                     id="deployment-image-differs-from-spec"),
        pytest.param(5, _deployment(), "Progressing", "FTFF", "RollingOut", id="spec-scaled-up"),
        pytest.param(0, _deployment(replicas=0, updated=0, ready=0, available=0), "Ready", "TFFF",
                     "Available", id="scaled-to-zero"),
        pytest.param(3, _deployment(available=1, conditions=(DEADLINE,)), "Degraded", "FFTF",
                     "RolloutStalled", id="progress-deadline-exceeded"),
        pytest.param(3, _deployment(conditions=(DEADLINE,)), "Degraded", "TFTF", "RolloutStalled",
                     id="deadline-exceeded-but-old-pods-serve"),
    ],
)  # fmt: skip
def test_calculate_status(
    replicas: int, deployment: dict[str, Any] | None, phase: str, conditions: str, reason: str
) -> None:
    status = calculate_status(_ms(replicas=replicas), deployment, now=NOW)
    assert status.phase == phase
    assert [(c.type, c.status) for c in status.conditions] == [
        ("Ready", FLAGS[conditions[0]]),
        ("Progressing", FLAGS[conditions[1]]),
        ("Degraded", FLAGS[conditions[2]]),
        ("OutOfSync", FLAGS[conditions[3]]),
    ]
    ready_condition = status.condition("Ready")
    assert ready_condition is not None
    assert ready_condition.reason == reason
    assert all(
        c.observed_generation == 2 and c.last_transition_time == NOW for c in status.conditions
    )
    assert (status.observed_generation, status.replicas) == (2, replicas)


def test_status_counts_come_from_the_deployment() -> None:
    status = calculate_status(_ms(), _deployment(updated=2, ready=1, available=1), now=NOW)
    assert (status.ready_replicas, status.updated_replicas) == (1, 2)
    assert "2/3 updated, 1/3 available" in status.conditions[0].message


def test_deadline_message_is_reported() -> None:
    status = calculate_status(_ms(), _deployment(conditions=(DEADLINE,)), now=NOW)
    degraded = status.condition("Degraded")
    assert degraded is not None
    assert (degraded.reason, degraded.message) == ("ProgressDeadlineExceeded", DEADLINE["message"])


def _previous(ready: str, *, reason: str = "Available") -> dict[str, Any]:
    return {
        "phase": "Ready",
        "observedGeneration": 1,
        "conditions": [
            {"type": "Ready", "status": ready, "reason": reason, "lastTransitionTime": T0},
            {
                "type": "Progressing",
                "status": "False",
                "reason": "RolloutComplete",
                "lastTransitionTime": T0,
            },
        ],
    }


@pytest.mark.parametrize(
    ("previous", "deployment", "ready_time", "progressing_time", "degraded_time"),
    [
        pytest.param(_previous("True"), _deployment(), T0, T0, NOW, id="unchanged-kept"),
        pytest.param(
            _previous("True", reason="Other"),
            _deployment(),
            T0,
            T0,
            NOW,
            id="reason-change-alone-keeps-time",
        ),
        pytest.param(
            _previous("True"), _deployment(available=2), NOW, NOW, NOW, id="status-flip-replaced"
        ),
        pytest.param(
            _previous("False"),
            _deployment(available=2),
            T0,
            NOW,
            NOW,
            id="only-flipped-condition-replaced",
        ),
        pytest.param(None, _deployment(), NOW, NOW, NOW, id="no-previous-status"),
    ],
)
def test_last_transition_time(
    previous: dict[str, Any] | None,
    deployment: dict[str, Any],
    ready_time: str,
    progressing_time: str,
    degraded_time: str,
) -> None:
    status = calculate_status(_ms(status=previous), deployment, now=NOW)
    # OutOfSync is new in every `previous` here, so it always gets NOW.
    assert [c.last_transition_time for c in status.conditions] == [
        ready_time,
        progressing_time,
        degraded_time,
        NOW,
    ]


def test_recalculating_an_unchanged_status_is_identical() -> None:
    """What keeps reconcile from writing status on every pass."""
    first = calculate_status(_ms(), _deployment(), now=T0)
    again = calculate_status(_ms(status=first.to_wire()), _deployment(), now=NOW)
    assert again.to_wire() == first.to_wire()


def test_failed_status_keeps_counts_and_sets_failed() -> None:
    previous = MicroserviceStatus(
        observed_generation=1,
        phase="Ready",
        replicas=3,
        ready_replicas=3,
        updated_replicas=3,
        conditions=(
            Condition(type="Ready", status="True", reason="Available", last_transition_time=T0),
            Condition(
                type="Progressing",
                status="False",
                reason="RolloutComplete",
                last_transition_time=T0,
            ),
            Condition(
                type="Degraded", status="False", reason="AsExpected", last_transition_time=T0
            ),
        ),
    )
    ms = _ms(replicas=5, status=previous.to_wire())
    status = calculate_failed_status(ms, reason="Invalid", message="Deployment shop/cart: bad")
    assert status.phase == "Failed"
    assert (status.replicas, status.ready_replicas, status.updated_replicas) == (3, 3, 3)
    # This generation was not rolled out: the top level keeps the last one that was,
    # the conditions say which generation they judged.
    assert status.observed_generation == previous.observed_generation
    assert {c.observed_generation for c in status.conditions} == {ms.metadata.generation}
    assert [(c.type, c.status, c.reason, c.message) for c in status.conditions] == [
        ("Ready", "False", "Invalid", "Deployment shop/cart: bad"),
        ("Progressing", "False", "Invalid", "Deployment shop/cart: bad"),
        ("Degraded", "True", "Invalid", "Deployment shop/cart: bad"),
    ]
    times = {c.type: c.last_transition_time for c in status.conditions}
    assert times["Progressing"] == T0
    assert times["Ready"] != T0
    assert times["Degraded"] != T0


@pytest.mark.parametrize(
    ("before", "after", "patch"),
    [
        pytest.param({"phase": "Ready"}, {"phase": "Degraded"}, {"phase": "Degraded"}, id="value"),
        pytest.param(
            {"rollout": {"held": {"generation": 2}, "stableImage": "a"}},
            {"rollout": {"stableImage": "a"}},
            {"rollout": {"stableImage": "a", "held": None}},
            id="a dropped nested key is nulled",
        ),
        pytest.param({"rollout": {"history": []}}, {}, {"rollout": None}, id="a dropped block"),
        pytest.param(
            {"conditions": [{"type": "Ready"}, {"type": "X"}]},
            {"conditions": [{"type": "Ready"}]},
            {"conditions": [{"type": "Ready"}]},
            id="lists are replaced whole",
        ),
    ],
)
def test_status_patch_removes_what_the_new_status_dropped(
    before: dict[str, Any], after: dict[str, Any], patch: dict[str, Any]
) -> None:
    assert status_patch(before, after) == patch
