"""Rolling releases on real pods: a release whose pods never become ready is rolled back
by the operator itself (even when the operator's pods are deleted meanwhile), and
`kubectl rollout undo` stays undone (OutOfSync) until the Microservice spec changes;
`kubectl shopmesh` (the real plugin, found by kubectl on PATH) watches, shows and undoes
them. Those tests release their own copy of the shop's payments service (real image, real
database) next to the installed shop; the last one releases the shop's own payments while
orders flow through the gateway, and checks no order is lost. The operator is the one the
chart installed.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import pytest
from invariants import check_eventually
from releases import Released, Spec, second_tag, var
from shop_helpers import MAILDIR, PRODUCTS, wait_finished
from shop_release import SHOP_STOCK, Customer, ShopRelease, eventually, off_loop

from kube import kubectl, wait_for

pytestmark = pytest.mark.e2e


def test_pods_that_never_become_ready_are_rolled_back_by_the_operator(
    release_of: Callable[[Spec], Released], payments_image: str
) -> None:
    service = release_of({"rollout": {"progressDeadlineSeconds": 20}})
    service.wait_serving(payments_image)
    missing = payments_image.rsplit(":", 1)[0] + ":no-such-version"

    service.patch({"image": missing})
    # The operator's pods go away mid-release: their successors carry on from the cluster.
    kubectl(
        "delete", "pod", "-l", "app.kubernetes.io/component=operator",
        "-n", service.namespace, "--wait=false",
    )  # fmt: skip

    watched = kubectl(
        "shopmesh", "watch", service.name, "-n", service.namespace, "--timeout", "110", check=False
    )
    assert watched.returncode == 1, watched.stdout + watched.stderr
    assert "rolled back" in watched.stderr
    degraded = service.wait_reason("Degraded", "RolledBack", timeout=10)
    assert f"{missing} did not become ready within 20s" in degraded["message"], degraded
    assert f"rolled back to {payments_image}" in degraded["message"], degraded
    assert service.deployment_image() == payments_image
    service_status = service.get()["status"]
    assert service_status["phase"] == "Degraded"
    assert service_status["rollout"]["held"]["runningImage"] == payments_image
    outcomes = [(r["image"], r["outcome"]) for r in service_status["rollout"]["history"]]
    assert outcomes == [(payments_image, "Released"), (missing, "RolledBack")]
    (event,) = service.events("RolledBack")
    assert event["type"] == "Warning"
    # The failed pod is gone and the old version serves alone, still held back.
    service.wait_serving(payments_image)
    assert service.reason("OutOfSync") == "RolledBack"
    assert service.deployment_image() == payments_image


def test_kubectl_rollout_undo_stays_undone_until_the_spec_changes(
    release_of: Callable[[Spec], Released], payments_image: str
) -> None:
    v1, v2 = payments_image, second_tag(payments_image)
    service = release_of({})
    service.wait_serving(v1)
    service.patch({"image": v2})
    service.wait_serving(v2)

    kubectl("rollout", "undo", f"deployment/{service.name}", "-n", service.namespace)

    sync = service.wait_reason("OutOfSync", "RolloutUndone")
    assert sync["status"] == "True"
    assert sync["message"].startswith(f"kubectl rollout undo: {v1} runs, the spec asks for {v2}")
    service.wait_serving(v1)
    assert len(service.events("RolloutUndone")) == 1
    # Another pass (a child deleted outside the operator is repaired) leaves it undone.
    kubectl("delete", "service", service.name, "-n", service.namespace)
    wait_for(
        lambda: service.events("DriftRepaired"),
        what=f"the operator to repair {service.name}'s Service",
        timeout=60,
    )
    assert service.deployment_image() == v1
    assert service.reason("OutOfSync") == "RolloutUndone"

    shown = kubectl("shopmesh", "status", service.name, "-n", service.namespace).stdout
    assert f"running image  {v1}" in shown, shown
    assert "held: RolloutUndone" in shown, shown

    # A change to the spec is a new release: the operator applies it again.
    service.patch({"env": [*service.get()["spec"].get("env", []), var("RELEASE", "3")]})
    kubectl("shopmesh", "watch", service.name, "-n", service.namespace, "--timeout", "110")
    service.wait_serving(v2)
    # (Not "Synced" necessarily: the shop's payments may allow a caller with no account here.)
    assert service.reason("OutOfSync") != "RolloutUndone"
    assert "held" not in service.get()["status"]["rollout"]

    # kubectl shopmesh undo goes back through the spec: a release like any other.
    undone = kubectl("shopmesh", "undo", service.name, "-n", service.namespace).stdout
    assert f"releasing {v1} (was {v2})" in undone
    kubectl("shopmesh", "watch", service.name, "-n", service.namespace, "--timeout", "110")
    service.wait_serving(v1)
    assert service.get()["spec"]["image"] == v1


async def test_orders_keep_flowing_while_payments_is_released(shop: ShopRelease) -> None:
    """A new revision of the shop's own payments rolls out under a load of orders: every
    order accepted meanwhile finishes, and the shop's invariants hold."""
    payments = Released(shop, "payments")
    env = payments.get()["spec"].get("env", [])
    generation = payments.get()["metadata"]["generation"]
    accepted: list[str] = []
    released = asyncio.Event()

    def rolled_out() -> bool:
        body = payments.get()
        status = body.get("status", {})
        return bool(
            status.get("observedGeneration") == body["metadata"]["generation"] > generation
            and status.get("phase") == "Ready"
        )

    async with shop.gateway_client() as client:
        customers = [await Customer.sign_up(client) for _ in range(3)]

        async def shopper(customer: Customer) -> None:
            for n in range(40):  # bounded, and stopped once the release is out
                if released.is_set():
                    return
                answer = await customer.order([{"product_id": f"p{n % 5 + 1}", "quantity": 1}])
                assert answer.status_code == 202, answer.text
                accepted.append(answer.json()["id"])
                await asyncio.sleep(0.2)  # pacing: a customer every 0.2 s, not a wait

        load = asyncio.gather(*(shopper(c) for c in customers))
        await eventually(off_loop(lambda: len(accepted) >= 3), within=60)
        payments.patch({"env": [*env, var("RELEASE", uuid.uuid4().hex[:6])]})
        try:
            await eventually(off_loop(rolled_out), within=240)
        finally:
            released.set()
            await load
    assert len(accepted) >= 6, f"only {len(accepted)} orders were placed during the release"
    statuses = await wait_finished(shop.shop, set(accepted), within=180)
    assert "CONFIRMED" in statuses.values(), statuses
    stocked = {pid: SHOP_STOCK for pid in PRODUCTS}
    await check_eventually(shop.shop, stocked=stocked, maildir=MAILDIR)
    payments.patch({"env": env})  # the next release puts it back
    await eventually(off_loop(rolled_out), within=240)
