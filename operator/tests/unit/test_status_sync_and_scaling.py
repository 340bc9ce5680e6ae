"""Table tests for status.py's newer parts: the OutOfSync condition (a child that
could not be brought in line, such as an AuthorizationPolicy waiting on a missing
caller) and, with autoscaling, judging the rollout against the replica count the
live Deployment asks for instead of spec.replicas."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.models import Microservice
from shopmesh_operator.status import calculate_status

IMAGE = "shopmesh/cart:1.0"
T0 = "2024-01-01T00:00:00Z"
NOW = "2024-06-01T12:00:00Z"
AUTOSCALING = {"minReplicas": 2, "maxReplicas": 8}
MISSING = "mesh.allowedCallers: no ServiceAccount ops/admin; the AuthorizationPolicy keeps ..."


def _ms(*, status: dict[str, Any] | None = None, **spec: Any) -> Microservice:
    return Microservice.from_body(
        {
            "metadata": {"name": "cart", "namespace": "shop", "generation": 2},
            "spec": {"image": IMAGE, **spec},
            "status": status,
        }
    )


def _deployment(*, want: int | None, running: int) -> dict[str, Any]:
    """A caught-up Deployment asking for `want` pods (None: no spec.replicas) with
    `running` of them up, updated and available."""
    spec: dict[str, Any] = {"template": {"spec": {"containers": [{"image": IMAGE}]}}}
    if want is not None:
        spec["replicas"] = want
    return {
        "metadata": {"name": "cart", "generation": 3},
        "spec": spec,
        "status": {
            "observedGeneration": 3,
            "replicas": running,
            "updatedReplicas": running,
            "readyReplicas": running,
            "availableReplicas": running,
        },
    }


@pytest.mark.parametrize(
    ("out_of_sync", "expected"),
    [
        pytest.param(None, ("False", "Synced", "every child matches the spec"), id="in-sync"),
        pytest.param(
            "", ("False", "Synced", "every child matches the spec"), id="empty-is-in-sync"
        ),
        pytest.param(MISSING, ("True", "UnknownCaller", MISSING), id="unknown-caller"),
    ],
)
def test_out_of_sync_condition(out_of_sync: str | None, expected: tuple[str, str, str]) -> None:
    status = calculate_status(
        _ms(replicas=2), _deployment(want=2, running=2), out_of_sync=out_of_sync, now=NOW
    )
    condition = status.condition("OutOfSync")
    assert condition is not None
    assert (condition.status, condition.reason, condition.message) == expected
    assert [c.type for c in status.conditions] == ["Ready", "Progressing", "Degraded", "OutOfSync"]
    # A policy waiting on a caller does not make the service itself unready.
    assert status.phase == "Ready"


def _previous_sync(state: str) -> dict[str, Any]:
    return {
        "observedGeneration": 2,
        "conditions": [
            {"type": "OutOfSync", "status": state, "reason": "Any", "lastTransitionTime": T0}
        ],
    }


@pytest.mark.parametrize(
    ("previous", "out_of_sync", "time"),
    [
        pytest.param("True", MISSING, T0, id="still-out-of-sync-keeps-time"),
        pytest.param("True", None, NOW, id="caught-up-moves-time"),
        pytest.param("False", MISSING, NOW, id="fell-out-moves-time"),
        pytest.param("False", None, T0, id="still-in-sync-keeps-time"),
    ],
)
def test_out_of_sync_transition_time(previous: str, out_of_sync: str | None, time: str) -> None:
    ms = _ms(replicas=2, status=_previous_sync(previous))
    status = calculate_status(ms, _deployment(want=2, running=2), out_of_sync=out_of_sync, now=NOW)
    condition = status.condition("OutOfSync")
    assert condition is not None
    assert condition.last_transition_time == time


@pytest.mark.parametrize(
    ("spec", "deployment", "phase", "replicas", "message"),
    [
        pytest.param(
            {"autoscaling": AUTOSCALING},
            _deployment(want=4, running=4),
            "Ready",
            4,
            "4/4 replicas available",
            id="hpa-count-met",
        ),
        pytest.param(
            {"autoscaling": AUTOSCALING},
            _deployment(want=6, running=4),
            "Progressing",
            6,
            "rolling out: 4/6 updated, 4/6 available",
            id="hpa-scaled-up-pods-coming",
        ),
        pytest.param(
            {"replicas": 3, "autoscaling": {"minReplicas": 3, "maxReplicas": 8}},
            _deployment(want=5, running=5),
            "Ready",
            5,
            "5/5 replicas available",
            id="hpa-count-beats-spec-replicas",
        ),
        pytest.param(
            {"replicas": 3},
            _deployment(want=5, running=5),
            "Progressing",
            3,
            "rolling out: 5/3 updated, 5/3 available",
            id="without-autoscaling-spec-replicas-rule",
        ),
        pytest.param(
            {"replicas": 3, "autoscaling": {"minReplicas": 3, "maxReplicas": 8}},
            _deployment(want=None, running=3),
            "Ready",
            3,
            "3/3 replicas available",
            id="hpa-no-live-count-falls-back-to-spec",
        ),
        pytest.param(
            {"autoscaling": AUTOSCALING},
            None,
            "Pending",
            1,
            "waiting for the Deployment to be created",
            id="hpa-no-deployment-yet",
        ),
    ],
)
def test_wanted_replicas_with_autoscaling(
    spec: dict[str, Any],
    deployment: dict[str, Any] | None,
    phase: str,
    replicas: int,
    message: str,
) -> None:
    status = calculate_status(_ms(**spec), deployment, now=NOW)
    ready = status.condition("Ready")
    assert ready is not None
    assert (status.phase, status.replicas, ready.message) == (phase, replicas, message)
