"""watch.py: which Microservice a child or pod event wakes, which waiting Microservices
a new ServiceAccount wakes, and the re-checks that come due."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from shopmesh_operator import watch
from shopmesh_operator.models import Microservice
from shopmesh_operator.reconcile import Reconciler
from shopmesh_operator.render import build_deployment
from shopmesh_operator.scope import in_scope
from shopmesh_operator.watch import (
    MANAGED_SELECTOR,
    PODS_PATH,
    Watcher,
    child_paths,
    owner_of,
)


def child(namespace: str | None, labels: dict[str, str] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "x", "labels": labels}
    if namespace:
        meta["namespace"] = namespace
    return {"metadata": meta}


OWNED = {"shopmesh.io/microservice": "cart", "app.kubernetes.io/managed-by": "shopmesh-operator"}


@pytest.mark.parametrize(
    ("obj", "namespaces", "expected"),
    [
        pytest.param(child("shop", OWNED), (), ("shop", "cart"), id="owned-cluster-wide"),
        pytest.param(child("shop", OWNED), ("sh*",), ("shop", "cart"), id="owned-in-scope"),
        pytest.param(child("shop", OWNED), ("e2e-*",), None, id="owned-out-of-scope"),
        pytest.param(child("shop", {"app": "x"}), (), None, id="no-owner-label"),
        pytest.param(child("shop", None), (), None, id="no-labels"),
        pytest.param(child(None, OWNED), (), None, id="cluster-scoped"),
    ],
)
def test_owner_of(obj: dict[str, Any], namespaces: tuple[str, ...], expected: Any) -> None:
    assert owner_of(obj, namespaces) == expected


@pytest.mark.parametrize(
    ("namespace", "patterns", "expected"),
    [
        pytest.param("shop", (), True, id="no-patterns-means-everywhere"),
        pytest.param("e2e-12", ("e2e-*",), True, id="glob"),
        pytest.param("shop", ("e2e-*", "shop"), True, id="exact-among-several"),
        pytest.param("shopping", ("shop",), False, id="exact-only"),
    ],
)
def test_in_scope(namespace: str, patterns: tuple[str, ...], expected: bool) -> None:
    assert in_scope(namespace, patterns) is expected


def test_every_child_kind_is_watched_cluster_wide_and_the_microservice_is_not() -> None:
    paths = child_paths()
    assert "/apis/apps/v1/deployments" in paths
    assert "/api/v1/services" in paths
    assert "/apis/networking.istio.io/v1/virtualservices" in paths
    assert "/apis/autoscaling/v2/horizontalpodautoscalers" in paths
    assert len(paths) == 10
    assert not any("microservices" in p for p in paths)


def test_pod_events_wake_the_microservice_of_the_pod_template() -> None:
    """The pod watch relies on the labels the Deployment gives its pods."""
    ms = Microservice.from_body(
        {"metadata": {"name": "cart", "namespace": "shop"}, "spec": {"image": "shopmesh/cart:1"}}
    )
    labels = build_deployment(ms)["spec"]["template"]["metadata"]["labels"]
    key, value = MANAGED_SELECTOR.split("=")
    assert labels[key] == value  # the server-side selector of the pod watch matches
    pod = {"metadata": {"name": "cart-7f9c6d8b5-abcde", "namespace": "shop", "labels": labels}}
    assert owner_of(pod, ()) == ("shop", "cart")
    assert PODS_PATH == "/api/v1/pods"


class RecordingReconciler(Reconciler):
    """A Reconciler whose passes only record who was woken."""

    def __init__(self) -> None:
        super().__init__(api=None)  # type: ignore[arg-type]
        self.woken: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    async def request(self, namespace: str, name: str) -> None:
        await self.woken.put((namespace, name))


@pytest.mark.parametrize(
    ("event_type", "woken"),
    [
        pytest.param("ADDED", [("shop", "cart")], id="created-wakes"),
        pytest.param("MODIFIED", [], id="modified-does-not"),
        pytest.param("DELETED", [], id="deleted-does-not"),
    ],
)
async def test_a_new_account_wakes_who_waits_on_it(
    event_type: str, woken: list[tuple[str, str]]
) -> None:
    reconciler = RecordingReconciler()
    reconciler.callers._waiting[("ops", "admin")].add(("shop", "cart"))
    watcher = Watcher(api=None, reconciler=reconciler, namespaces=("shop",))  # type: ignore[arg-type]
    watcher._account(event_type, {"metadata": {"namespace": "ops", "name": "admin"}})
    await asyncio.gather(*watcher._pending)
    assert [reconciler.woken.get_nowait() for _ in range(reconciler.woken.qsize())] == woken
    # Woken once: the wait is forgotten; not woken: it stays.
    assert (("ops", "admin") in reconciler.callers._waiting) is (not woken)


async def test_watcher_streams_pods_and_wakes_due_rechecks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pods are watched like children; a re-check that comes due wakes its
    Microservice through the same gated path as a watch event."""
    streams: list[tuple[str, str | None]] = []

    async def no_stream(
        self: Watcher, path: str, selector: str | None, handle: Callable[..., None]
    ) -> None:
        streams.append((path, selector))

    monkeypatch.setattr(Watcher, "_stream", no_stream)
    monkeypatch.setattr(watch, "RECHECK_TICK_SECONDS", 0.01)
    reconciler = RecordingReconciler()
    watcher = Watcher(api=None, reconciler=reconciler, namespaces=("shop",))  # type: ignore[arg-type]
    reconciler.requeue.later(("shop", "cart"), 0.0)
    reconciler.requeue.later(("elsewhere", "cart"), 0.0)  # out of scope: not woken
    watcher.start()
    try:
        assert await asyncio.wait_for(reconciler.woken.get(), timeout=5) == ("shop", "cart")
    finally:
        await watcher.stop()
    assert (PODS_PATH, MANAGED_SELECTOR) in streams
    assert reconciler.woken.empty()
