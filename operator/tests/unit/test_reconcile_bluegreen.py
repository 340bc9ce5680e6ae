"""Reconcile drives a BlueGreen release through the cluster: the preview Deployment and
Service beside the active ones, the `cart` Service's selector switched in one update,
the old pods kept through the scale-down delay, promotion, an abort, and a strategy
change that leaves no preview behind. The fake cluster makes every Deployment's pods
available as soon as it is applied."""

from __future__ import annotations

from typing import Any

from shopmesh_operator import constants as c
from shopmesh_operator.reconcile import Reconciler
from shopmesh_operator.steering import ANNOTATION, Command

from .canary_support import V1, V2, blue_green_spec, image_of
from .fake_cluster import FakeCluster, microservice_body
from .reconcile_support import NAME, NS

#: No scale-down delay: the pure tests (test_bluegreen.py) walk the timed steps.
SETTINGS = {"scaleDownDelaySeconds": 0}


async def _released_then(cluster: FakeCluster, image: str) -> Reconciler:
    cluster.put(microservice_body(spec=blue_green_spec(V1, **SETTINGS)))
    reconciler = Reconciler(cluster)
    await reconciler.reconcile(NS, NAME)
    cluster.bump_generation(**blue_green_spec(image, **SETTINGS))
    return reconciler


def _track(cluster: FakeCluster, service: str = "cart") -> str:
    return str(cluster.child("Service", service)["spec"]["selector"][c.LABEL_TRACK])


def _status(cluster: FakeCluster) -> dict[str, Any]:
    return dict(cluster.microservice()["status"])


def _steer(cluster: FakeCluster, verb: str, id_: str) -> None:
    command = Command(id=id_, verb=verb)  # type: ignore[arg-type]
    cluster.microservice()["metadata"]["annotations"] = {ANNOTATION: command.encode()}


async def test_a_blue_green_release_previews_switches_and_is_promoted(
    cluster: FakeCluster,
) -> None:
    reconciler = await _released_then(cluster, V2)
    assert _track(cluster) == c.TRACK_STABLE
    assert _track(cluster, "cart-preview") == c.TRACK_PREVIEW

    await reconciler.reconcile(NS, NAME)  # the preview comes up beside the active side
    assert image_of(cluster.child("Deployment", "cart-preview")) == V2
    assert image_of(cluster.child("Deployment")) == V1
    await reconciler.reconcile(NS, NAME)  # it is available: waiting for a person
    status = _status(cluster)
    assert status["phase"] == "Paused"
    assert status["rollout"]["release"]["strategy"] == "BlueGreen"
    assert status["rollout"]["release"]["paused"] == "PauseStep"
    assert _track(cluster) == c.TRACK_STABLE

    _steer(cluster, "promote", "p1")
    await reconciler.reconcile(NS, NAME)  # switch; no delay: the stable side takes v2
    assert _track(cluster) == c.TRACK_PREVIEW
    assert image_of(cluster.child("Deployment")) == V2
    await reconciler.reconcile(NS, NAME)  # it has rolled out: promoted
    status = _status(cluster)
    assert status["phase"] == "Ready"
    assert "release" not in status["rollout"]
    assert status["rollout"]["stableImage"] == V2
    assert _track(cluster) == c.TRACK_STABLE
    assert ("apps/v1", "Deployment", NS, "cart-preview") in cluster.deleted
    reasons = [event.reason for event in cluster.events]
    for reason in ("ReleaseStarted", "CanaryStep", "PromotedByUser", "Promoted"):
        assert reason in reasons
    # The switch and the return to the stable track are the release's, not drift.
    assert "DriftRepaired" not in reasons
    switched = [e.message for e in cluster.events if "Service cart " in e.message]
    assert any("release weight 0% -> 100%" in m for m in switched), switched
    assert any("release weight 100% -> 0%" in m for m in switched), switched


async def test_an_aborted_blue_green_release_leaves_the_active_side_serving(
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
    assert _track(cluster) == c.TRACK_STABLE
    assert image_of(cluster.child("Deployment")) == V1
    assert ("apps/v1", "Deployment", NS, "cart-preview") in cluster.deleted


async def test_leaving_blue_green_removes_the_preview_service(cluster: FakeCluster) -> None:
    cluster.put(microservice_body(spec=blue_green_spec(V1, **SETTINGS)))
    reconciler = Reconciler(cluster)
    await reconciler.reconcile(NS, NAME)
    rolling = blue_green_spec(V1)
    rolling["rollout"] = {"strategy": "Rolling"}
    cluster.bump_generation(**rolling)
    await reconciler.reconcile(NS, NAME)

    assert ("v1", "Service", NS, "cart-preview") in cluster.deleted
    assert c.LABEL_TRACK not in cluster.child("Service")["spec"]["selector"]
