"""Reconcile drives a Canary release through the cluster: the canary Deployment beside
the stable one, the weights in the VirtualService, a person's commands through the
annotation, promotion and the canary's removal, an abort; Events and metrics on the way.
The fake cluster makes every Deployment's pods available as soon as it is applied."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import REGISTRY

from shopmesh_operator.apply import ApplyError, StaleStatus
from shopmesh_operator.reconcile import STALE_RETRIES, Reconciler
from shopmesh_operator.steering import ANNOTATION, Command

from .canary_support import V1, V2, canary_spec, image_of
from .fake_cluster import FakeCluster, microservice_body
from .reconcile_support import NAME, NS

STEPS = [{"setWeight": 25}, {"pause": {}}, {"setWeight": 50}, {"pause": {}}]


def _istio_canary(image: str) -> dict[str, Any]:
    spec = canary_spec(image, STEPS)
    spec["mesh"] = {"mtls": "STRICT"}
    spec["rollout"]["canary"].pop("analysis")
    return spec


async def _released_then(cluster: FakeCluster, image: str) -> Reconciler:
    cluster.put(microservice_body(spec=_istio_canary(V1)))
    reconciler = Reconciler(cluster)
    await reconciler.reconcile(NS, NAME)
    cluster.bump_generation(**_istio_canary(image))
    cluster.forget_writes()
    return reconciler


def _status(cluster: FakeCluster) -> dict[str, Any]:
    return dict(cluster.microservice()["status"])


def _weights(cluster: FakeCluster) -> dict[str, int]:
    route = cluster.child("VirtualService")["spec"]["http"][0]["route"]
    return {r["destination"]["subset"]: r["weight"] for r in route}


def _steer(cluster: FakeCluster, verb: str, id_: str) -> None:
    command = Command(id=id_, verb=verb)  # type: ignore[arg-type]
    cluster.microservice()["metadata"]["annotations"] = {ANNOTATION: command.encode()}


def _events(cluster: FakeCluster) -> list[str]:
    return [event.reason for event in cluster.events]


async def test_a_canary_walks_its_steps_and_is_promoted(cluster: FakeCluster) -> None:
    reconciler = await _released_then(cluster, V2)
    subsets = [s["name"] for s in cluster.child("DestinationRule")["spec"]["subsets"]]
    assert subsets == ["stable", "canary"]

    await reconciler.reconcile(NS, NAME)  # the release starts: the canary at 25%
    assert image_of(cluster.child("Deployment")) == V1
    assert image_of(cluster.child("Deployment", "cart-canary")) == V2
    assert cluster.child("Deployment", "cart-canary")["spec"]["replicas"] == 1
    assert _weights(cluster) == {"stable": 75, "canary": 25}
    assert _status(cluster)["phase"] == "Progressing"

    await reconciler.reconcile(NS, NAME)  # its pod is available: on to the pause
    status = _status(cluster)
    assert status["phase"] == "Paused"
    assert status["rollout"]["release"]["step"] == 1
    assert status["rollout"]["release"]["paused"] == "PauseStep"

    _steer(cluster, "promote", "p1")
    await reconciler.reconcile(NS, NAME)
    await reconciler.reconcile(NS, NAME)
    assert _weights(cluster) == {"stable": 50, "canary": 50}
    assert _status(cluster)["rollout"]["steered"] == "p1"
    assert _status(cluster)["rollout"]["release"]["step"] == 3

    _steer(cluster, "promote", "p2")
    await reconciler.reconcile(NS, NAME)  # the stable Deployment takes v2
    assert image_of(cluster.child("Deployment")) == V2
    await reconciler.reconcile(NS, NAME)  # it has rolled out: promoted
    status = _status(cluster)
    assert status["phase"] == "Ready"
    assert "release" not in status["rollout"]
    assert status["rollout"]["stableImage"] == V2
    assert status["rollout"]["history"][-1]["outcome"] == "Released"
    assert ("apps/v1", "Deployment", NS, "cart-canary") in cluster.deleted
    assert _weights(cluster) == {"stable": 100}
    for reason in ("ReleaseStarted", "CanaryStep", "PromotedByUser", "Promoting", "Promoted"):
        assert reason in _events(cluster)
    steps = REGISTRY.get_sample_value(
        "shopmesh_rollout_events_total", {"namespace": NS, "name": NAME, "reason": "CanaryStep"}
    )
    assert steps is not None
    assert steps >= 3


async def test_an_idle_release_writes_nothing(cluster: FakeCluster) -> None:
    reconciler = await _released_then(cluster, V2)
    await reconciler.reconcile(NS, NAME)
    await reconciler.reconcile(NS, NAME)  # paused, waiting for a person
    cluster.forget_writes()

    await reconciler.reconcile(NS, NAME)

    assert cluster.writes == 0
    assert cluster.events == []


async def test_an_abort_returns_every_request_to_the_stable_version(
    cluster: FakeCluster,
) -> None:
    reconciler = await _released_then(cluster, V2)
    await reconciler.reconcile(NS, NAME)
    await reconciler.reconcile(NS, NAME)

    _steer(cluster, "abort", "a1")
    await reconciler.reconcile(NS, NAME)

    status = _status(cluster)
    assert status["phase"] == "Degraded"
    assert status["rollout"]["held"]["reason"] == "Aborted"
    degraded = next(c for c in status["conditions"] if c["type"] == "Degraded")
    assert degraded["reason"] == "Aborted"
    assert "kubectl shopmesh abort" in degraded["message"]
    assert _weights(cluster) == {"stable": 100}
    assert ("apps/v1", "Deployment", NS, "cart-canary") in cluster.deleted
    assert image_of(cluster.child("Deployment")) == V1
    assert "Aborted" in _events(cluster)
    aborted = REGISTRY.get_sample_value(
        "shopmesh_rollout_releases_total", {"namespace": NS, "name": NAME, "outcome": "Aborted"}
    )
    assert aborted is not None
    assert aborted >= 1


async def test_a_step_a_twin_replica_entered_first_is_not_entered_again(
    cluster: FakeCluster,
) -> None:
    """Two operator replicas acting in the same moment (one shutting down, one starting):
    the status write of the later one is refused (409); it reads again, finds the step
    taken, and posts no Event of its own: each step is entered once."""
    reconciler = await _released_then(cluster, V2)
    await reconciler.reconcile(NS, NAME)  # the canary at 25%
    await reconciler.reconcile(NS, NAME)  # waiting at the pause
    _steer(cluster, "promote", "p1")
    cluster.events.clear()
    cluster.twin_writes_first = True

    result = await reconciler.reconcile(NS, NAME)

    assert result is not None
    assert not cluster.twin_writes_first  # the twin went first
    assert _status(cluster)["rollout"]["release"]["step"] == 3
    assert _status(cluster)["rollout"]["steered"] == "p1"
    assert _weights(cluster) == {"stable": 50, "canary": 50}
    assert "CanaryStep" not in _events(cluster)
    assert "PromotedByUser" not in _events(cluster)


async def test_a_microservice_that_keeps_changing_is_retried_later(cluster: FakeCluster) -> None:
    reconciler = await _released_then(cluster, V2)

    stale = 0

    async def refuse(*args: Any, **kwargs: Any) -> None:
        nonlocal stale
        stale += 1
        raise StaleStatus("changed")

    cluster.patch_status = refuse  # type: ignore[method-assign]
    with pytest.raises(ApplyError) as failed:
        await reconciler.reconcile(NS, NAME)
    assert failed.value.retryable
    assert stale == STALE_RETRIES
