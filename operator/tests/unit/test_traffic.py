"""traffic.py: how many canary pods each router runs for a weight beside the stable
ones, the share of requests that gives the canary, the VirtualService each router
writes (istio: stable/canary subsets at the weight; replicas: the host, no subset, once
a canary runs), and which router a spec gets."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from shopmesh_operator.models import Microservice
from shopmesh_operator.render import build_virtual_service
from shopmesh_operator.traffic import IstioRouter, ReplicasRouter, TrafficRouter, router_for

from .fake_cluster import microservice_body

ISTIO, REPLICAS = IstioRouter(), ReplicasRouter()
HOST = "cart.shop.svc.cluster.local"
DESTINATION = {"host": HOST, "port": {"number": 8080}}
DEFAULT_RETRIES = {
    "attempts": 2,
    "perTryTimeout": "2s",
    "retryOn": "connect-failure,refused-stream,reset,unavailable",
}


def _canary(*, mesh: dict[str, Any] | None = None, **canary: Any) -> Microservice:
    """shop/cart released with strategy Canary (one setWeight step) and `canary` fields."""
    rollout = {"strategy": "Canary", "canary": {"steps": [{"setWeight": 20}], **canary}}
    spec = {"image": "shopmesh/cart:2.0", "replicas": 2, "rollout": rollout, "mesh": mesh or {}}
    return Microservice.from_body(microservice_body(spec=spec))


def _rolling(*, mesh: dict[str, Any] | None = None) -> Microservice:
    spec = {"image": "shopmesh/cart:2.0", "replicas": 2, "mesh": mesh or {}}
    return Microservice.from_body(microservice_body(spec=spec))


# --- canary_replicas ---------------------------------------------------------------------


def _sizes(router: TrafficRouter, weight: int, *by_stable: int) -> list[Any]:
    """One row per stable size 1, 2, 5: (router, weight, stable, canary pods)."""
    return [
        pytest.param(router, weight, stable, canary, id=f"{router.name}-w{weight}-stable{stable}")
        for stable, canary in zip((1, 2, 5), by_stable, strict=True)
    ]


@pytest.mark.parametrize(
    ("router", "weight", "stable", "canary"),
    [
        # istio: ceil(weight% of stable), at least one; the mesh gives the exact share.
        *_sizes(ISTIO, 0, 0, 0, 0),
        *_sizes(ISTIO, 1, 1, 1, 1),
        *_sizes(ISTIO, 20, 1, 1, 1),
        *_sizes(ISTIO, 50, 1, 1, 3),
        *_sizes(ISTIO, 80, 1, 2, 4),
        *_sizes(ISTIO, 100, 1, 2, 5),
        # replicas: round(S * w / (100 - w)), at least one, never more than S.
        *_sizes(REPLICAS, 0, 0, 0, 0),
        *_sizes(REPLICAS, 1, 1, 1, 1),
        *_sizes(REPLICAS, 20, 1, 1, 1),
        *_sizes(REPLICAS, 50, 1, 2, 5),
        *_sizes(REPLICAS, 80, 1, 2, 5),
        *_sizes(REPLICAS, 100, 1, 2, 5),
        pytest.param(ISTIO, 20, 0, 1, id="istio-stable-scaled-to-zero-counts-as-one"),
        pytest.param(REPLICAS, 20, 0, 1, id="replicas-stable-scaled-to-zero-counts-as-one"),
        pytest.param(REPLICAS, 100, 0, 1, id="replicas-full-weight-stable-zero-still-one"),
        pytest.param(REPLICAS, 20, 8, 2, id="replicas-two-beside-eight-is-exactly-20pc"),
        pytest.param(REPLICAS, 25, 9, 3, id="replicas-three-beside-nine-is-exactly-25pc"),
    ],
)
def test_canary_replicas(router: TrafficRouter, weight: int, stable: int, canary: int) -> None:
    assert router.canary_replicas(weight, stable) == canary


@pytest.mark.parametrize("stable", [1, 2, 3, 5, 10, 20])
@pytest.mark.parametrize("weight", [1, 5, 10, 20, 25, 33, 50, 67, 80, 99])
def test_canary_replicas_bounds(weight: int, stable: int) -> None:
    istio, replicas = (
        ISTIO.canary_replicas(weight, stable),
        REPLICAS.canary_replicas(weight, stable),
    )

    # istio: the fewest pods that carry weight% of what the stable pods carry.
    assert istio - 1 < stable * weight / 100 <= istio
    # replicas: at least one canary pod, and never more than the stable side.
    assert 1 <= replicas <= stable


# --- share -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("router", "weight", "canary", "stable", "share"),
    [
        pytest.param(ISTIO, 20, 1, 5, 20.0, id="istio-the-weight-whatever-the-pods"),
        pytest.param(ISTIO, 80, 4, 5, 80.0, id="istio-above-half"),
        pytest.param(ISTIO, 100, 5, 5, 100.0, id="istio-all"),
        pytest.param(ISTIO, 20, 0, 5, 0.0, id="istio-no-canary-pods-no-share"),
        pytest.param(ISTIO, 0, 0, 5, 0.0, id="istio-weight-zero"),
        pytest.param(REPLICAS, 20, 1, 5, 100 / 6, id="replicas-one-pod-in-six"),
        pytest.param(REPLICAS, 20, 2, 8, 20.0, id="replicas-exact-fit"),
        pytest.param(REPLICAS, 50, 2, 2, 50.0, id="replicas-half"),
        pytest.param(REPLICAS, 80, 5, 5, 50.0, id="replicas-capped-at-half"),
        pytest.param(REPLICAS, 20, 0, 5, 0.0, id="replicas-no-canary-pods"),
        pytest.param(REPLICAS, 20, 0, 0, 0.0, id="replicas-no-pods-at-all"),
    ],
)
def test_share(router: TrafficRouter, weight: int, canary: int, stable: int, share: float) -> None:
    assert math.isclose(router.share(weight, canary, stable), share)


# --- route -------------------------------------------------------------------------------


def _split(stable: int, canary: int | None) -> list[dict[str, Any]]:
    """The istio route: stable at `stable`, then canary at `canary` when given."""
    split = [{"destination": {**DESTINATION, "subset": "stable"}, "weight": stable}]
    if canary is not None:
        split.append({"destination": {**DESTINATION, "subset": "canary"}, "weight": canary})
    return split


@pytest.mark.parametrize(
    ("weight", "route"),
    [
        pytest.param(0, _split(100, None), id="w0-only-stable"),
        pytest.param(1, _split(99, 1), id="w1"),
        pytest.param(20, _split(80, 20), id="w20"),
        pytest.param(50, _split(50, 50), id="w50"),
        pytest.param(80, _split(20, 80), id="w80"),
        pytest.param(100, _split(0, 100), id="w100-stable-kept-at-zero"),
    ],
)
def test_istio_route_splits_stable_and_canary(weight: int, route: list[dict[str, Any]]) -> None:
    rendered = build_virtual_service(_canary())
    before = copy.deepcopy(rendered)

    routed = ISTIO.route(rendered, weight)

    (http,) = routed["spec"]["http"]
    assert http == {"name": "primary", "route": route, "timeout": "10s", "retries": DEFAULT_RETRIES}
    assert {k: v for k, v in routed.items() if k != "spec"} == {
        k: v for k, v in rendered.items() if k != "spec"
    }
    assert routed["spec"]["hosts"] == [HOST]
    assert rendered == before  # the rendered object is not changed in place


@pytest.mark.parametrize(
    ("mesh", "timeout", "retries"),
    [
        pytest.param({}, "10s", DEFAULT_RETRIES, id="defaults"),
        pytest.param(
            {"timeout": "6s", "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"}},
            "6s",
            {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx"},
            id="own-timeout-and-retries",
        ),
        pytest.param({"retries": {"attempts": 0}}, "10s", {"attempts": 0}, id="retries-off"),
    ],
)
@pytest.mark.parametrize("router", [ISTIO, REPLICAS], ids=lambda router: router.name)
def test_route_keeps_timeout_and_retries(
    router: TrafficRouter, mesh: dict[str, Any], timeout: str, retries: dict[str, Any]
) -> None:
    routed = router.route(build_virtual_service(_canary(mesh=mesh)), 20)

    (http,) = routed["spec"]["http"]
    assert (http["name"], http["timeout"], http["retries"]) == ("primary", timeout, retries)


def test_replicas_route_weight_zero_is_the_rendered_route() -> None:
    rendered = build_virtual_service(_canary())

    assert REPLICAS.route(rendered, 0) == build_virtual_service(_canary())


@pytest.mark.parametrize("weight", [1, 20, 50, 80, 100])
def test_replicas_route_goes_to_the_host_without_a_subset(weight: int) -> None:
    rendered = build_virtual_service(_canary())
    before = copy.deepcopy(rendered)

    routed = REPLICAS.route(rendered, weight)

    (http,) = routed["spec"]["http"]
    assert http == {
        "name": "primary",
        "route": [{"destination": DESTINATION, "weight": 100}],
        "timeout": "10s",
        "retries": DEFAULT_RETRIES,
    }
    assert rendered == before


# --- router_for --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ms", "router"),
    [
        pytest.param(_canary(), "istio", id="default-mtls-strict-istio"),
        pytest.param(_canary(mesh={"mtls": "PERMISSIVE"}), "istio", id="mtls-permissive-istio"),
        pytest.param(_canary(mesh={"mtls": "DISABLE"}), "replicas", id="mtls-disable-replicas"),
        pytest.param(
            _canary(trafficRouting="replicas"), "replicas", id="traffic-routing-replicas-over-mtls"
        ),
        pytest.param(
            _canary(mesh={"mtls": "DISABLE"}, trafficRouting="istio"),
            "istio",
            id="traffic-routing-istio-over-no-mtls",
        ),
        pytest.param(
            _canary(mesh={"mtls": "DISABLE"}, trafficRouting="replicas"),
            "replicas",
            id="traffic-routing-replicas-agrees",
        ),
        pytest.param(_rolling(), "istio", id="rolling-strict-istio"),
        pytest.param(_rolling(mesh={"mtls": "DISABLE"}), "replicas", id="rolling-no-mtls-replicas"),
    ],
)
def test_router_for(ms: Microservice, router: str) -> None:
    chosen = router_for(ms)

    assert chosen.name == router
    assert isinstance(chosen, {"istio": IstioRouter, "replicas": ReplicasRouter}[router])
