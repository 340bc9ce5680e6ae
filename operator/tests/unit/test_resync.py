"""resync_once: the safety-net pass visits exactly the Microservices whose namespace
matches one of the glob patterns, and one failing object does not stop the rest."""

from __future__ import annotations

import pytest

from shopmesh_operator import constants as c
from shopmesh_operator.apply import ApplyError
from shopmesh_operator.reconcile import Reconciler
from shopmesh_operator.resync import resync_once

from .fake_cluster import FakeCluster, microservice_body

NAMESPACES = ("shop", "shop-dev", "e2e-1a2b", "payments", "kube-system")


def _cluster() -> FakeCluster:
    cluster = FakeCluster()
    for namespace in NAMESPACES:
        cluster.put(microservice_body(namespace=namespace))
    return cluster


def _reconciled(cluster: FakeCluster) -> set[str]:
    """Namespaces whose Microservice was read, i.e. reconciled."""
    return {ns for (_, kind, ns, _) in cluster.reads if kind == c.KIND}


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        pytest.param((), set(NAMESPACES), id="no-patterns-means-all"),
        pytest.param(("shop",), {"shop"}, id="exact-name-is-not-a-prefix"),
        pytest.param(("shop*",), {"shop", "shop-dev"}, id="star"),
        pytest.param(("e2e-*", "payments"), {"e2e-1a2b", "payments"}, id="several"),
        pytest.param(("shop-???",), {"shop-dev"}, id="question-marks"),
        pytest.param(("[kp]*",), {"kube-system", "payments"}, id="character-class"),
        pytest.param(("nomatch-*",), set(), id="none"),
    ],
)
async def test_resync_visits_matching_namespaces(
    patterns: tuple[str, ...], expected: set[str]
) -> None:
    cluster = _cluster()

    visited = await resync_once(Reconciler(cluster), namespaces=patterns)

    assert visited == len(expected)
    assert _reconciled(cluster) == expected
    assert {ns for (_, kind, ns, _) in cluster.objects if kind == "Deployment"} == expected


async def test_resync_continues_past_failures() -> None:
    cluster = _cluster()
    cluster.put(microservice_body(namespace="shop", spec={"image": ""}))  # InvalidSpec
    cluster.refuse["Service"] = ApplyError(reason="ApiError", message="down", retryable=True)

    visited = await resync_once(Reconciler(cluster))

    assert visited == len(NAMESPACES)
    assert _reconciled(cluster) == set(NAMESPACES)


async def test_idle_resync_writes_nothing() -> None:
    cluster = _cluster()
    await resync_once(Reconciler(cluster))
    cluster.forget_writes()

    assert await resync_once(Reconciler(cluster)) == len(NAMESPACES)
    assert cluster.writes == 0


@pytest.mark.parametrize(
    ("patterns", "lists"),
    [
        pytest.param((), [None], id="cluster-wide"),
        pytest.param(("shop", "payments"), ["shop", "payments"], id="exact-names-one-by-one"),
        pytest.param(("shop", "e2e-*"), [None], id="a-glob-needs-the-cluster-list"),
    ],
)
async def test_resync_lists_only_as_wide_as_it_must(
    patterns: tuple[str, ...], lists: list[str | None]
) -> None:
    cluster = _cluster()

    await resync_once(Reconciler(cluster), namespaces=patterns)

    assert cluster.lists == lists
