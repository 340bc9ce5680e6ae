"""Table tests for callers.py: `CallerWaits.split` sorts allowed callers into those
whose ServiceAccount exists and those whose does not (reading, never writing), and
`take` hands back, once, the Microservices that wait on a ServiceAccount."""

from __future__ import annotations

import pytest

from shopmesh_operator.callers import CallerWaits
from shopmesh_operator.models import Microservice

from .fake_cluster import FakeCluster, microservice_body, service_account_body

INGRESS = "istio-system/istio-ingressgateway"


def _cart(*callers: str, name: str = "cart") -> Microservice:
    spec = {"image": "shopmesh/cart:1.0", "mesh": {"allowedCallers": list(callers)}}
    return Microservice.from_body(microservice_body(name=name, spec=spec))


def _cluster() -> FakeCluster:
    cluster = FakeCluster()
    cluster.put(service_account_body("orders"))
    cluster.put(service_account_body("istio-ingressgateway", "istio-system"))
    return cluster


@pytest.mark.parametrize(
    ("callers", "known", "missing"),
    [
        pytest.param((), (), (), id="none"),
        pytest.param(("orders", INGRESS), ("orders", INGRESS), (), id="all-exist"),
        pytest.param(("ghost",), (), ("ghost",), id="missing-local"),
        pytest.param(("ops/admin",), (), ("ops/admin",), id="missing-cross-namespace"),
        pytest.param(("istio-system/orders",), (), ("istio-system/orders",), id="wrong-namespace"),
        pytest.param(
            ("ghost", "orders", "ops/admin", INGRESS),
            ("orders", INGRESS),
            ("ghost", "ops/admin"),
            id="mixed-keeps-order",
        ),
    ],
)
async def test_split(
    callers: tuple[str, ...], known: tuple[str, ...], missing: tuple[str, ...]
) -> None:
    cluster = _cluster()
    assert await CallerWaits().split(_cart(*callers), cluster) == (known, missing)
    assert cluster.writes == 0


async def test_split_reads_each_callers_service_account() -> None:
    cluster = _cluster()
    await CallerWaits().split(_cart("orders", "ops/admin"), cluster)
    assert cluster.reads == [
        ("v1", "ServiceAccount", "shop", "orders"),
        ("v1", "ServiceAccount", "ops", "admin"),
    ]


async def test_take_hands_back_each_waiter_once() -> None:
    cluster = _cluster()
    waits = CallerWaits()
    await waits.split(_cart("ops/admin", "orders"), cluster)
    await waits.split(_cart("ops/admin", name="checkout"), cluster)

    assert waits.take("ops", "admin") == {("shop", "cart"), ("shop", "checkout")}
    assert waits.take("ops", "admin") == set()
    assert waits.take("shop", "orders") == set()  # it existed: nobody waited on it


async def test_a_caller_that_appears_is_no_longer_waited_on() -> None:
    cluster = _cluster()
    ms = _cart("ghost")
    waits = CallerWaits()
    await waits.split(ms, cluster)
    cluster.put(service_account_body("ghost"))

    assert await waits.split(ms, cluster) == (("ghost",), ())
    assert waits.take("shop", "ghost") == set()
