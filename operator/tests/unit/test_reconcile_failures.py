"""reconcile_microservice when things go wrong: the API refuses a child, the
Microservice is gone or being deleted, or its stored spec does not parse."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from shopmesh_operator import constants as c
from shopmesh_operator.apply import ApplyError
from shopmesh_operator.reconcile import InvalidSpec, reconcile_microservice

from .fake_cluster import Event, FakeCluster, microservice_body
from .reconcile_support import KINDS

NS, NAME = "shop", "cart"


async def _settle(cluster: FakeCluster) -> None:
    await reconcile_microservice(NS, NAME, cluster)
    cluster.forget_writes()


@pytest.mark.parametrize(
    "retryable",
    [pytest.param(False, id="permanent-returns"), pytest.param(True, id="retryable-reraises")],
)
async def test_refused_child_records_failure(cluster: FakeCluster, retryable: bool) -> None:
    await _settle(cluster)
    good = cluster.children()
    cluster.bump_generation(replicas=3)
    refusal = ApplyError(reason="Invalid", message="Deployment shop/cart: no", retryable=retryable)
    cluster.refuse["Deployment"] = refusal

    outcome = pytest.raises(ApplyError) if retryable else contextlib.nullcontext()
    with outcome:
        result = await reconcile_microservice(NS, NAME, cluster)
        assert result is not None
        assert result.status.phase == "Failed"

    assert cluster.children() == good  # the last good children stay
    assert cluster.applied == []
    assert cluster.events == [Event("Warning", "Invalid", "Deployment shop/cart: no")]
    (status,) = cluster.statuses
    assert status["phase"] == "Failed"
    assert status["replicas"] == 2
    degraded = next(cond for cond in status["conditions"] if cond["type"] == "Degraded")
    assert (degraded["status"], degraded["reason"]) == ("True", "Invalid")

    cluster.forget_writes()
    with pytest.raises(ApplyError) if retryable else contextlib.nullcontext():
        await reconcile_microservice(NS, NAME, cluster)
    assert cluster.writes == 1  # the retried apply only: no repeated status or Warning
    assert cluster.events == []


async def test_refusal_on_first_pass_stops_before_later_children(cluster: FakeCluster) -> None:
    cluster.refuse["Service"] = ApplyError(reason="Forbidden", message="no", retryable=False)

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert result.status.phase == "Failed"
    assert cluster.applied == ["ServiceAccount"]
    assert ("apps/v1", "Deployment", NS, NAME) not in cluster.objects
    assert Event("Warning", "Forbidden", "no") in cluster.events


async def test_child_first_created_after_a_failed_pass_is_reported_created(
    cluster: FakeCluster,
) -> None:
    cluster.refuse["Deployment"] = ApplyError(reason="Invalid", message="no", retryable=False)
    await reconcile_microservice(NS, NAME, cluster)
    del cluster.refuse["Deployment"]

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    # The refusal stopped the first pass at the Deployment: it and every later child are new.
    assert [(ch.kind, ch.action) for ch in result.changes] == [
        (kind, "Created") for kind in KINDS[KINDS.index("Deployment") :]
    ]


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param(None, id="missing"),
        pytest.param({"deletionTimestamp": "2024-01-01T00:00:00Z"}, id="being-deleted"),
    ],
)
async def test_gone_microservice_is_left_alone(metadata: dict[str, Any] | None) -> None:
    cluster = FakeCluster()
    if metadata is not None:
        cluster.put(microservice_body(**metadata))

    assert await reconcile_microservice(NS, NAME, cluster) is None
    assert cluster.writes == 0
    assert [key[1] for key in cluster.objects] == ([c.KIND] if metadata else [])


async def test_unparseable_spec_raises_invalid_spec_and_writes_nothing() -> None:
    cluster = FakeCluster()
    cluster.put(microservice_body(spec={"image": "x", "port": 0}))

    with pytest.raises(InvalidSpec, match="port"):
        await reconcile_microservice(NS, NAME, cluster)
    assert cluster.writes == 0
