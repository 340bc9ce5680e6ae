"""Reconcile drives a Rolling release: past the progress deadline it rolls back by
itself and says so; a `kubectl rollout undo` stays undone and is reported OutOfSync;
both hold until the Microservice spec changes, writing nothing meanwhile."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY

from shopmesh_operator.reconcile import Reconciler

from .fake_cluster import Event, FakeCluster
from .reconcile_support import NAME, NS, settle
from .rolling_support import past_deadline, replica_set, template

V1, V2, V3 = "shopmesh/cart:1.0", "shopmesh/cart:2.0", "shopmesh/cart:3.0"


def _image(cluster: FakeCluster) -> str:
    return str(cluster.child("Deployment")["spec"]["template"]["spec"]["containers"][0]["image"])


def _status(cluster: FakeCluster) -> dict[str, Any]:
    return dict(cluster.microservice()["status"])


def _condition(cluster: FakeCluster, type_: str) -> dict[str, Any]:
    return next(c for c in _status(cluster)["conditions"] if c["type"] == type_)


async def _released_v2(cluster: FakeCluster) -> Reconciler:
    """v1 released and available, then the spec moved to v2; two revisions exist."""
    reconciler = Reconciler(cluster)
    await reconciler.reconcile(NS, NAME)
    cluster.bump_generation(image=V2)
    cluster.pods_become_ready = False
    await reconciler.reconcile(NS, NAME)
    cluster.pods_become_ready = True
    cluster.replica_sets = [replica_set(V1, 1), replica_set(V2, 2)]
    cluster.forget_writes()
    return reconciler


def _releases(outcome: str) -> float:
    labels = {"namespace": NS, "name": NAME, "outcome": outcome}
    return REGISTRY.get_sample_value("shopmesh_rollout_releases_total", labels) or 0.0


async def test_new_pods_past_the_deadline_are_rolled_back(cluster: FakeCluster) -> None:
    reconciler = await _released_v2(cluster)
    cluster.put(past_deadline(cluster.child("Deployment")))
    rolled_back = _releases("RolledBack")

    await reconciler.reconcile(NS, NAME)
    await reconciler.reconcile(NS, NAME)

    assert _releases("RolledBack") == rolled_back + 1
    assert _image(cluster) == V1
    assert cluster.applied == ["Deployment"]
    message = (
        f"{V2} did not become ready within 600s; rolled back to {V1}. "
        "Change the spec to release again"
    )
    assert cluster.events == [
        Event("Warning", "RolledBack", f"rolled back Deployment cart: {message}"),
        Event("Warning", "Degraded", message),
    ]
    status = _status(cluster)
    assert status["phase"] == "Degraded"
    assert _condition(cluster, "Degraded")["reason"] == "RolledBack"
    assert _condition(cluster, "OutOfSync") == {
        **_condition(cluster, "OutOfSync"),
        "status": "True",
        "reason": "RolledBack",
        "message": message,
    }
    assert status["rollout"]["held"]["runningImage"] == V1
    assert status["rollout"]["stableImage"] == V1
    assert [(r["image"], r["outcome"]) for r in status["rollout"]["history"]] == [
        (V1, "Released"),
        (V2, "RolledBack"),
    ]


async def test_a_rolled_back_release_holds_without_writing(cluster: FakeCluster) -> None:
    reconciler = await _released_v2(cluster)
    cluster.put(past_deadline(cluster.child("Deployment")))
    await reconciler.reconcile(NS, NAME)
    # The Deployment controller re-used v1's ReplicaSet for a new revision.
    cluster.replica_sets = [replica_set(V1, 3, history="1"), replica_set(V2, 2)]
    cluster.forget_writes()

    await reconciler.reconcile(NS, NAME)
    await reconciler.reconcile(NS, NAME)

    assert (cluster.writes, cluster.events) == (0, [])
    assert _image(cluster) == V1
    assert _status(cluster)["rollout"]["held"]["reason"] == "RolledBack"


async def test_rollout_undo_stays_undone_and_is_reported(cluster: FakeCluster) -> None:
    reconciler = await _released_v2(cluster)
    undone = cluster.child("Deployment")
    undone["spec"]["template"] = template(V1)  # what kubectl rollout undo does
    undone["status"].update(replicas=2, updatedReplicas=2)  # and v1's pods serve again

    await reconciler.reconcile(NS, NAME)
    await reconciler.reconcile(NS, NAME)

    assert _image(cluster) == V1
    assert cluster.applied == []
    message = (
        f"kubectl rollout undo: {V1} runs, the spec asks for {V2}; the operator leaves the "
        "Deployment as it is until the Microservice spec changes"
    )
    assert cluster.events == [
        Event("Normal", "RolloutUndone", message),
        Event("Normal", "Ready", "2/2 replicas available"),
    ]
    assert _status(cluster)["phase"] == "Ready"
    sync = _condition(cluster, "OutOfSync")
    assert (sync["status"], sync["reason"], sync["message"]) == ("True", "RolloutUndone", message)


async def test_a_new_spec_releases_again_after_a_hold(cluster: FakeCluster) -> None:
    reconciler = await _released_v2(cluster)
    cluster.child("Deployment")["spec"]["template"] = template(V1)
    await reconciler.reconcile(NS, NAME)
    cluster.bump_generation(image=V3)
    cluster.forget_writes()

    await reconciler.reconcile(NS, NAME)

    assert _image(cluster) == V3
    status = _status(cluster)
    assert "held" not in status["rollout"]
    assert _condition(cluster, "OutOfSync")["reason"] == "Synced"
    assert [(r["image"], r["outcome"]) for r in status["rollout"]["history"]] == [
        (V1, "Released"),
        (V2, "RolloutUndone"),
        (V3, "Released"),
    ]


async def test_other_template_edits_are_still_repaired(cluster: FakeCluster) -> None:
    await settle(cluster)
    cluster.replica_sets = [replica_set(V1, 1)]
    cluster.child("Deployment")["spec"]["template"] = template("evil/miner:1")

    await Reconciler(cluster).reconcile(NS, NAME)

    assert _image(cluster) == V1
    assert [e.reason for e in cluster.events] == ["DriftRepaired"]


async def test_an_idle_release_reads_no_replica_sets(cluster: FakeCluster) -> None:
    reconciler = await _released_v2(cluster)
    await reconciler.reconcile(NS, NAME)
    assert cluster.replica_set_lists == []
