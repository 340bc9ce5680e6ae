"""reconcile_microservice with pods that cannot become ready: a Ready Microservice
reads no pods at all, a stuck one says why at once and writes nothing more while
the problem lasts, a readiness probe is judged only after its grace (with a re-check
booked for then), a refused read changes nothing but the message, and the other
Microservices are untouched."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shopmesh_operator.apply import ApplyError
from shopmesh_operator.reconcile import Reconciler, reconcile_microservice

from .fake_cluster import Event, FakeCluster, microservice_body
from .pod_support import (
    ERR_IMAGE_PULL,
    IMAGE,
    IMAGE_PULL_BACKOFF,
    PULL_ERROR,
    container,
    pod,
    running,
    unhealthy,
)
from .reconcile_support import NAME, NS, settle

POD = "cart-7f9c6d8b5-abcde"
SELECTOR = {"app.kubernetes.io/name": "cart", "app.kubernetes.io/instance": "cart"}


def _stall(cluster: FakeCluster, name: str = NAME) -> None:
    """The Deployment as the controller reports it when no pod becomes ready."""
    cluster.child("Deployment", name)["status"] = {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 2,
        "readyReplicas": 0,
        "unavailableReplicas": 2,
    }


def _pod(state: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return pod(POD, container=container(state), now=datetime.now(UTC), **kwargs)


def _running_for(seconds: float) -> dict[str, Any]:
    return running(seconds, datetime.now(UTC))


def _conditions(cluster: FakeCluster) -> dict[str, tuple[str, str, str]]:
    conds = cluster.microservice()["status"]["conditions"]
    return {c["type"]: (c["status"], c["reason"], c["message"]) for c in conds}


async def test_a_ready_microservice_reads_no_pods(cluster: FakeCluster) -> None:
    await settle(cluster)
    cluster.pods.append(_pod(ERR_IMAGE_PULL))  # even a failing pod is not looked at
    reconciler = Reconciler(cluster)

    for _ in range(3):
        result = await reconciler.reconcile(NS, NAME)
        assert result is not None
        assert result.status.phase == "Ready"

    assert (cluster.pod_lists, cluster.event_lists) == ([], [])
    assert cluster.writes == 0
    assert reconciler.requeue.take_due(now=float("inf")) == []


async def test_an_image_that_cannot_be_pulled_is_reported_at_once(cluster: FakeCluster) -> None:
    await settle(cluster)
    _stall(cluster)
    cluster.pods.append(_pod(ERR_IMAGE_PULL))

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    why = f'pod {POD}: image "{IMAGE}" cannot be pulled: {PULL_ERROR}'
    counts = "rolling out: 2/2 updated, 0/2 available"
    assert result.status.phase == "Degraded"
    assert _conditions(cluster) == {
        "Ready": ("False", "ImagePullFailed", f"{why} ({counts})"),
        "Progressing": ("True", "ImagePullFailed", f"{why} ({counts})"),
        "Degraded": ("True", "ImagePullFailed", why),
        "OutOfSync": ("False", "Synced", "every child matches the spec"),
    }
    assert cluster.events == [Event("Warning", "Degraded", f"{why} ({counts})")]
    assert cluster.pod_lists == [SELECTOR]
    assert cluster.event_lists == []  # only a failing readiness probe needs its Events
    assert cluster.writes == 2  # the status and the phase Event

    # The kubelet backs off and retries; the pod changes, the status does not.
    cluster.forget_writes()
    for state in (ERR_IMAGE_PULL, IMAGE_PULL_BACKOFF):
        cluster.pods[0] = _pod(state)
        await reconcile_microservice(NS, NAME, cluster)
    assert cluster.writes == 0


async def test_a_readiness_probe_is_judged_after_its_grace(cluster: FakeCluster) -> None:
    await settle(cluster)
    _stall(cluster)
    cluster.pods.append(_pod(_running_for(10), phase="Running"))
    cluster.pod_events.append(unhealthy(POD))
    reconciler = Reconciler(cluster)

    result = await reconciler.reconcile(NS, NAME)

    assert result is not None
    assert (result.status.phase, _conditions(cluster)["Ready"][1]) == ("Progressing", "RollingOut")
    assert cluster.event_lists == []
    # Nothing in the cluster changes when the grace runs out: a re-check is booked.
    due = reconciler.requeue.due_at((NS, NAME))
    assert due is not None
    assert reconciler.requeue.take_due(now=due - 1) == []
    assert reconciler.requeue.take_due(now=due) == [(NS, NAME)]

    cluster.pods[0] = _pod(_running_for(40), phase="Running")  # the same pod, 30 s later
    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert result.status.phase == "Degraded"
    status, reason, message = _conditions(cluster)["Degraded"]
    assert (status, reason) == ("True", "ReadinessProbeFailing")
    assert message.endswith("Readiness probe failed: HTTP probe failed with statuscode: 404")
    assert cluster.event_lists == [POD]


async def test_a_refused_pod_read_leaves_the_counts_and_the_reconcile_goes_on(
    cluster: FakeCluster,
) -> None:
    await settle(cluster)
    _stall(cluster)
    cluster.pods.append(_pod(ERR_IMAGE_PULL))
    cluster.refuse_pod_reads = ApplyError(reason="Forbidden", message="no", retryable=False)

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert _conditions(cluster)["Ready"] == (
        "False",
        "RollingOut",
        "rolling out: 2/2 updated, 0/2 available",
    )


async def test_other_microservices_are_untouched(cluster: FakeCluster) -> None:
    cluster.put(microservice_body(name="orders"))
    await settle(cluster)
    await reconcile_microservice(NS, "orders", cluster)
    orders = cluster.microservice("orders")["status"]
    cluster.forget_writes()
    _stall(cluster)
    cluster.pods.append(_pod(ERR_IMAGE_PULL))

    await reconcile_microservice(NS, NAME, cluster)
    await reconcile_microservice(NS, "orders", cluster)

    assert cluster.microservice("orders")["status"] == orders
    assert cluster.microservice()["status"]["phase"] == "Degraded"
    assert cluster.pod_lists == [SELECTOR]  # orders is Ready: its pods are not read
    assert cluster.writes == 2  # cart's status and its phase Event
