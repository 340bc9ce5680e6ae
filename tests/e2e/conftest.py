"""Fixtures for the e2e suites: the real local cluster, the operator as a real
process, a fresh namespace per test, and the shop installed by helm as real pods (one
release for the session: installing takes a minute; test_shop_in_cluster.py uninstalls
it in its last test, and its module runs after the others that use it)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from releases import Released, Spec, copy_of_payments, operator_log, release_state
from shop_release import ShopRelease

from kube import ENV, REPO, create_namespace, get, kubectl, wait_for

OPERATOR_LOG = REPO / ".shopmesh/logs/operator-e2e.log"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that restart the cluster run last, so nothing else runs on a cluster
    that is still settling after them."""
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


@pytest.fixture(scope="session")
def cluster() -> None:
    """The local cluster, started if it is not up (cluster.sh up is idempotent)."""
    subprocess.run(["bash", str(REPO / "ci/cluster/cluster.sh"), "up"], check=True, env=ENV)


class OperatorProcess:
    """The operator as a real child process, limited to the e2e-* namespaces."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = {
            **ENV,
            "SHOPMESH_NAMESPACES": "e2e-*",
            "SHOPMESH_RESYNC_SECONDS": "30",
            "PYTHONUNBUFFERED": "1",
        }
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "shopmesh_operator"], env=env, stdout=log, stderr=log
            )

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, as when a pod is evicted mid-reconcile."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture(scope="session")
def operator(cluster: None) -> Iterator[OperatorProcess]:
    op = OperatorProcess(OPERATOR_LOG)
    op.start()
    yield op
    op.stop()


@pytest.fixture
def namespace(cluster: None) -> Iterator[str]:
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    create_namespace(name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def shop(cluster: None) -> Iterator[ShopRelease]:
    """The shop installed by helm on the real node, seeded, two orders replicas."""
    rel = ShopRelease(extra_values={"shop": {"services": {"orders": {"replicas": 2}}}})
    try:
        rel.install()
        rel.wait_ready()
        asyncio.run(rel.seed())
        yield rel
    finally:
        rel.delete()


@pytest.fixture
def release_of(shop: ShopRelease) -> Iterator[Callable[[Spec], Released]]:
    """Creates a copy of payments (one replica, no HPA) with `spec` over its own."""
    names: list[str] = []

    def create(change: Spec) -> Released:
        names.append(f"pay-{uuid.uuid4().hex[:4]}")
        return copy_of_payments(shop, names[-1], change)

    yield create
    for name in names:
        kubectl("delete", "microservice", name, "-n", shop.namespace, "--wait=false", check=False)


@pytest.fixture
def payments_image(shop: ShopRelease) -> str:
    payments = get("microservice", "payments", shop.namespace)
    assert payments is not None
    return str(payments["spec"]["image"])


@pytest.fixture
def payments(shop: ShopRelease) -> Any:
    """The shop's payments; its spec is put back after the test (a Rolling release)."""
    service = Released(shop, "payments")
    before = service.get()["spec"]
    yield service
    service.patch(
        {
            "env": before.get("env", []),
            "rollout": {"strategy": "Rolling", "canary": None, "blueGreen": None},
        }
    )
    try:
        wait_for(
            lambda: (
                service.get()["status"].get("phase") == "Ready"
                and not release_state(service)
                and get("deployment", "payments-canary", service.namespace) is None
                and get("deployment", "payments-preview", service.namespace) is None
                and get("service", "payments-preview", service.namespace) is None
            ),
            what="payments back to its own spec",
            timeout=240,
            interval=2,
        )
    except AssertionError as failed:
        raise AssertionError(
            f"{failed}: {service.get()['status']}\n{operator_log(service)}"
        ) from failed
