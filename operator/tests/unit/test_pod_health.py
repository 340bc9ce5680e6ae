"""Table tests for pod_health.py: which problem the pods of a stuck rollout show, with
what message; which pods' Events are worth reading; when to look again."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.pod_health import (
    current_pods,
    diagnose_pods,
    readiness_suspects,
    seconds_until_recheck,
)

from .pod_support import (
    CONFIG_ERROR,
    CRASH_LOOP,
    CREATING,
    ERR_IMAGE_PULL,
    EXITED_1,
    IMAGE,
    IMAGE_PULL_BACKOFF,
    NOW,
    OOM_KILLED,
    PULL_ERROR,
    UNSCHEDULABLE,
    container,
    pod,
    running,
    stamp,
    unhealthy,
)

P = "pod cart-7f9c6d8b5-abcde"
PULL = f'{P}: image "{IMAGE}" cannot be pulled: {PULL_ERROR}'
NOT_READY = f"{P}: container app running since {stamp(40)} but not ready"
SCHEDULER = UNSCHEDULABLE[0]["message"]


@pytest.mark.parametrize(
    ("pods", "events", "expected"),
    [
        pytest.param([], [], None, id="no-pods"),
        pytest.param([pod()], [], None, id="pending-no-status-yet"),
        pytest.param([pod(container=container(CREATING))], [], None, id="container-creating"),
        pytest.param([pod(container=container(running(40), ready=True), phase="Running")], [],
                     None, id="ready"),
        pytest.param([pod(container=container(ERR_IMAGE_PULL))], [],
                     ("ImagePullFailed", PULL), id="err-image-pull"),
        pytest.param([pod(container=container(IMAGE_PULL_BACKOFF))], [],
                     ("ImagePullFailed", PULL), id="image-pull-backoff-says-the-same"),
        pytest.param([pod(container=container(
                         {"waiting": {"reason": "ImagePullBackOff",
                                      "message": f'Back-off pulling image "{IMAGE}"'}}))], [],
                     ("ImagePullFailed",
                      f'{P}: image "{IMAGE}" cannot be pulled: Back-off pulling image "{IMAGE}"'),
                     id="backoff-without-detail-before-1.32"),
        pytest.param([pod(container=container(CONFIG_ERROR))], [],
                     ("ConfigError",
                      f"{P}: container app cannot start: couldn't find key password in Secret "
                      "shop/cart-db"), id="missing-secret-key"),
        pytest.param([pod(container=container(CRASH_LOOP, restarts=3, last=EXITED_1),
                          phase="Running")], [],
                     ("CrashLoop",
                      f"{P}: container app keeps exiting: exit code 1 (Error): "
                      "sqlalchemy.exc.OperationalError: connection refused"),
                     id="crash-loop-back-off"),
        pytest.param([pod(container=container(EXITED_1), phase="Running")], [],
                     ("CrashLoop",
                      f"{P}: container app keeps exiting: exit code 1 (Error): "
                      "sqlalchemy.exc.OperationalError: connection refused"),
                     id="just-exited"),
        pytest.param([pod(container=container(running(3), restarts=4, last=EXITED_1),
                          phase="Running")], [],
                     ("CrashLoop",
                      f"{P}: container app keeps exiting: exit code 1 (Error): "
                      "sqlalchemy.exc.OperationalError: connection refused"),
                     id="up-again-between-crashes-says-the-same"),
        pytest.param([pod(container=container(CRASH_LOOP, restarts=2, last=OOM_KILLED),
                          phase="Running", memory_limit="128Mi")], [],
                     ("OOMKilled",
                      f"{P}: container app was killed for exceeding its memory limit of 128Mi "
                      "(exit code 137)"), id="oom-killed-beats-crash-loop"),
        pytest.param([pod(conditions=UNSCHEDULABLE)], [],
                     ("Unschedulable", f"{P} cannot be scheduled: {SCHEDULER}"),
                     id="unschedulable"),
        pytest.param([pod(container=container(running(10)), phase="Running")], [unhealthy()],
                     None, id="not-ready-inside-the-grace"),
        pytest.param([pod(container=container(running(40)), phase="Running")], [unhealthy()],
                     ("ReadinessProbeFailing",
                      f"{NOT_READY}: Readiness probe failed: HTTP probe failed with statuscode: "
                      "404"), id="readiness-probe-404"),
        pytest.param([pod(container=container(running(40)), phase="Running")], [],
                     ("ReadinessProbeFailing",
                      f"{NOT_READY}: its readiness probe (GET /health/ready on port http) has not "
                      "passed"), id="readiness-without-events"),
        pytest.param([pod(container=container(running(40)), phase="Running")],
                     [unhealthy(message="Readiness probe failed: Get \"http://10.244.0.7:8080/"
                                "health/ready\": dial tcp 10.244.0.7:8080: connect: connection "
                                "refused", last_seen=30),
                      unhealthy(last_seen=2),
                      unhealthy(message="Liveness probe failed: HTTP probe failed with "
                                "statuscode: 500", last_seen=1),
                      unhealthy("cart-7f9c6d8b5-other", message="Readiness probe failed: "
                                "HTTP probe failed with statuscode: 503", last_seen=0)],
                     ("ReadinessProbeFailing",
                      f"{NOT_READY}: Readiness probe failed: HTTP probe failed with statuscode: "
                      "404"), id="latest-readiness-event-of-this-pod"),
        pytest.param([pod("cart-7f9c6d8b5-zzzzz", container=container(running(40)),
                          phase="Running"),
                      pod(container=container(running(40)), phase="Running")], [unhealthy()],
                     ("ReadinessProbeFailing",
                      f"{NOT_READY}: Readiness probe failed: HTTP probe failed with statuscode: "
                      "404 (2/2 pods)"), id="how-many-pods"),
        pytest.param([pod(container=container(running(40), ready=True), phase="Running"),
                      pod("cart-7f9c6d8b5-zzzzz", container=container(CRASH_LOOP, last=EXITED_1),
                          phase="Running")], [],
                     ("CrashLoop",
                      "pod cart-7f9c6d8b5-zzzzz: container app keeps exiting: exit code 1 "
                      "(Error): sqlalchemy.exc.OperationalError: connection refused (1/2 pods)"),
                     id="one-of-two"),
        pytest.param([pod("cart-7f9c6d8b5-aaaaa", conditions=UNSCHEDULABLE),
                      pod(container=container(CONFIG_ERROR))], [],
                     ("ConfigError",
                      f"{P}: container app cannot start: couldn't find key password in Secret "
                      "shop/cart-db (1/2 pods)"), id="most-telling-wins"),
        pytest.param([pod("cart-5d4c3b2a1-old00", template_hash="5d4c3b2a1", created=600,
                          container=container(ERR_IMAGE_PULL)),
                      pod(container=container(CREATING), created=5)], [],
                     None, id="old-replicaset-failing-after-a-fix-is-ignored"),
        pytest.param([pod("cart-5d4c3b2a1-old00", template_hash="5d4c3b2a1", created=600,
                          container=container(running(600), ready=True), phase="Running"),
                      pod(container=container(ERR_IMAGE_PULL), created=5)], [],
                     ("ImagePullFailed", PULL), id="new-replicaset-failing"),
        pytest.param([pod(container=container(ERR_IMAGE_PULL),
                          deletionTimestamp=stamp(1))], [], None, id="terminating-ignored"),
    ],
)  # fmt: skip
def test_diagnose_pods(
    pods: list[dict[str, Any]],
    events: list[dict[str, Any]],
    expected: tuple[str, str] | None,
) -> None:
    found = diagnose_pods(pods, events, now=NOW)
    assert ((found.reason, found.message) if found else None) == expected


def test_long_messages_are_clipped_and_one_line() -> None:
    text = "line one\n" + "x" * 1000
    state = {"waiting": {"reason": "CreateContainerError", "message": text}}
    found = diagnose_pods([pod(container=container(state))], now=NOW)
    assert found is not None
    assert "\n" not in found.message
    assert len(found.message) < 500


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        pytest.param([pod(container=container(running(40)), phase="Running")],
                     ["cart-7f9c6d8b5-abcde"], id="past-the-grace"),
        pytest.param([pod(container=container(running(10)), phase="Running")], [],
                     id="inside-the-grace"),
        pytest.param([pod(container=container(running(40), ready=True), phase="Running")], [],
                     id="ready"),
        pytest.param([pod(container=container(ERR_IMAGE_PULL))], [], id="other-problem"),
    ],
)  # fmt: skip
def test_readiness_suspects(pods: list[dict[str, Any]], expected: list[str]) -> None:
    assert readiness_suspects(pods, now=NOW) == expected


@pytest.mark.parametrize(
    ("pods", "expected"),
    [
        pytest.param([pod(container=container(running(10)), phase="Running")], 16.0,
                     id="grace-ends-in-15s-plus-margin"),
        pytest.param([pod(container=container(running(10)), phase="Running"),
                      pod("cart-7f9c6d8b5-zzzzz", container=container(running(20)),
                          phase="Running")], 6.0, id="earliest-of-several"),
        pytest.param([pod(container=container(running(40)), phase="Running")], None,
                     id="grace-over-nothing-to-wait-for"),
        pytest.param([pod(container=container(running(10), ready=True), phase="Running")], None,
                     id="ready"),
        pytest.param([pod(container=container(ERR_IMAGE_PULL))], None,
                     id="not-running-the-pod-watch-will-tell"),
    ],
)  # fmt: skip
def test_seconds_until_recheck(pods: list[dict[str, Any]], expected: float | None) -> None:
    assert seconds_until_recheck(pods, now=NOW) == expected


def test_current_pods_are_the_newest_replicaset_sorted_by_name() -> None:
    old = pod("cart-5d4c3b2a1-old00", template_hash="5d4c3b2a1", created=600)
    new_b = pod("cart-7f9c6d8b5-bbbbb", created=5)
    new_a = pod("cart-7f9c6d8b5-aaaaa", created=10)
    done = pod("cart-7f9c6d8b5-ccccc", created=1, phase="Failed")
    assert [p["metadata"]["name"] for p in current_pods([old, new_b, new_a, done])] == [
        "cart-7f9c6d8b5-aaaaa",
        "cart-7f9c6d8b5-bbbbb",
    ]
