"""Table tests for status.py with pods: while the Deployment has not rolled out, a
problem the pods show replaces the generic "rolling out" reason, keeps the counts in
the message and sets Degraded; a pod still inside its readiness grace does not; and
a problem that lasts gives the same status on every look (so it is written once)."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.status import calculate_status

from .pod_support import (
    CONFIG_ERROR,
    ERR_IMAGE_PULL,
    IMAGE,
    IMAGE_PULL_BACKOFF,
    PULL_ERROR,
    container,
    pod,
    running,
    unhealthy,
)
from .pod_support import NOW as POD_NOW
from .status_support import DEADLINE
from .status_support import deployment_body as _deployment
from .status_support import microservice as _ms

NOW = POD_NOW.isoformat().replace("+00:00", "Z")
PULL = f'pod cart-7f9c6d8b5-abcde: image "{IMAGE}" cannot be pulled: {PULL_ERROR}'
STUCK = _deployment(updated=1, ready=0, available=0, replicas=1)
ROLLING = "rolling out: 1/3 updated, 0/3 available"
PROBE = "Readiness probe failed: HTTP probe failed with statuscode: 404"


def _row(cond: Any) -> tuple[str, str, str]:
    return (cond.status, cond.reason, cond.message)


@pytest.mark.parametrize(
    ("deployment", "pods", "events", "phase", "ready", "progressing", "degraded"),
    [
        pytest.param(STUCK, [pod(container=container(ERR_IMAGE_PULL))], [], "Degraded",
                     ("False", "ImagePullFailed", f"{PULL} ({ROLLING})"),
                     ("True", "ImagePullFailed", f"{PULL} ({ROLLING})"),
                     ("True", "ImagePullFailed", PULL), id="image-cannot-be-pulled"),
        pytest.param(STUCK, [pod(container=container(CONFIG_ERROR))], [], "Degraded",
                     ("False", "ConfigError", "pod cart-7f9c6d8b5-abcde: container app cannot "
                      f"start: couldn't find key password in Secret shop/cart-db ({ROLLING})"),
                     ("True", "ConfigError", "pod cart-7f9c6d8b5-abcde: container app cannot "
                      f"start: couldn't find key password in Secret shop/cart-db ({ROLLING})"),
                     ("True", "ConfigError", "pod cart-7f9c6d8b5-abcde: container app cannot "
                      "start: couldn't find key password in Secret shop/cart-db"),
                     id="missing-secret-key"),
        pytest.param(STUCK, [pod(container=container(running(10)), phase="Running")],
                     [unhealthy()], "Progressing",
                     ("False", "RollingOut", ROLLING), ("True", "RollingOut", ROLLING),
                     ("False", "AsExpected", ""), id="readiness-inside-the-grace"),
        pytest.param(STUCK, [pod(container=container(running(40)), phase="Running")],
                     [unhealthy()], "Degraded",
                     ("False", "ReadinessProbeFailing",
                      "pod cart-7f9c6d8b5-abcde: container app running since 2026-11-25T11:59:20Z"
                      f" but not ready: {PROBE} ({ROLLING})"),
                     ("True", "ReadinessProbeFailing",
                      "pod cart-7f9c6d8b5-abcde: container app running since 2026-11-25T11:59:20Z"
                      f" but not ready: {PROBE} ({ROLLING})"),
                     ("True", "ReadinessProbeFailing",
                      "pod cart-7f9c6d8b5-abcde: container app running since 2026-11-25T11:59:20Z"
                      f" but not ready: {PROBE}"), id="readiness-past-the-grace"),
        pytest.param(STUCK, [pod(container=container(running(40), ready=True), phase="Running")],
                     [], "Progressing",
                     ("False", "RollingOut", ROLLING), ("True", "RollingOut", ROLLING),
                     ("False", "AsExpected", ""), id="pods-fine-just-slow"),
        pytest.param(_deployment(updated=1, ready=0, available=0, replicas=1,
                                 conditions=(DEADLINE,)),
                     [pod(container=container(ERR_IMAGE_PULL))], [], "Degraded",
                     ("False", "ImagePullFailed", f"{PULL} ({DEADLINE['message']})"),
                     ("False", "ProgressDeadlineExceeded", DEADLINE["message"]),
                     ("True", "ImagePullFailed", f"{PULL} ({DEADLINE['message']})"),
                     id="deadline-passed-the-pods-still-say-why"),
        pytest.param(_deployment(updated=1, conditions=(DEADLINE,)),
                     [pod(container=container(ERR_IMAGE_PULL))], [], "Degraded",
                     ("True", "RolloutStalled", f"{PULL} ({DEADLINE['message']})"),
                     ("False", "ProgressDeadlineExceeded", DEADLINE["message"]),
                     ("True", "ImagePullFailed", f"{PULL} ({DEADLINE['message']})"),
                     id="deadline-passed-old-pods-serve"),
        pytest.param(_deployment(), [pod(container=container(ERR_IMAGE_PULL))], [], "Ready",
                     ("True", "Available", "3/3 replicas available"),
                     ("False", "RolloutComplete", "3/3 replicas available"),
                     ("False", "AsExpected", ""), id="rolled-out-pods-not-judged"),
    ],
)  # fmt: skip
def test_pods_explain_a_stuck_rollout(
    deployment: dict[str, Any],
    pods: list[dict[str, Any]],
    events: list[dict[str, Any]],
    phase: str,
    ready: tuple[str, str, str],
    progressing: tuple[str, str, str],
    degraded: tuple[str, str, str],
) -> None:
    status = calculate_status(_ms(), deployment, pods=pods, pod_events=events, now=NOW)
    assert status.phase == phase
    assert [_row(status.condition(t)) for t in ("Ready", "Progressing", "Degraded")] == [
        ready,
        progressing,
        degraded,
    ]


def test_a_lasting_problem_gives_the_same_status_on_every_look() -> None:
    """The kubelet flips ErrImagePull and ImagePullBackOff; the status must not follow."""
    first = calculate_status(
        _ms(), STUCK, pods=[pod(container=container(ERR_IMAGE_PULL))], now="2026-11-25T12:00:00Z"
    )
    again = calculate_status(
        _ms(status=first.to_wire()),
        STUCK,
        pods=[pod(container=container(IMAGE_PULL_BACKOFF, restarts=0))],
        now="2026-11-25T12:00:40Z",
    )
    assert again.to_wire() == first.to_wire()
