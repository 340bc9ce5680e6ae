"""`infra.mode=bundled`: one `helm install` runs the shop with its own PostgreSQL, Redis,
RabbitMQ and SMTP sink as pods on the real node (nothing on the host's stack), and an order
placed through the gateway's NodePort is confirmed and its email sent. The services start
beside their servers and wait for them (SHOPMESH_STARTUP_WAIT_SECONDS), so no pod of the
shop needs a restart to get there."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from shop_processes import PACKAGES
from shop_release import NODE_NAME, Customer, ShopRelease, eventually, pod_ready

from kube import list_items

pytestmark = pytest.mark.e2e

SERVERS = ("postgres", "redis", "rabbitmq", "smtp")


@pytest.fixture(scope="module")
def release(cluster: None) -> Iterator[ShopRelease]:
    rel = ShopRelease(bundled=True)
    try:
        rel.install()
        rel.wait_ready()
        yield rel
    finally:
        rel.delete()


def test_the_servers_run_as_pods_beside_the_shop(release: ShopRelease) -> None:
    infra = list_items("pods", release.namespace, "app.kubernetes.io/component=infra")
    names = sorted(p["metadata"]["labels"]["app.kubernetes.io/name"] for p in infra)
    assert names == sorted(SERVERS)
    assert all(pod_ready(p) and p["spec"]["nodeName"] == NODE_NAME for p in infra)
    for service in PACKAGES:
        pods = release.pods(service)
        assert pods, service
        assert all(pod_ready(p) for p in pods), service
        restarts = [s["restartCount"] for p in pods for s in p["status"]["containerStatuses"]]
        assert restarts == [0] * len(restarts), (service, restarts)


async def test_an_order_is_confirmed_and_its_email_sent(release: ShopRelease) -> None:
    async with release.admin_client("inventory", timeout=30) as admin:
        seeded = await admin.post(
            "/admin/products",
            json={"id": "b-mug", "name": "Bundled mug", "price_cents": 900, "stock": 3},
        )
        assert seeded.status_code in (200, 201), seeded.text
    async with release.gateway_client() as client:
        customer = await Customer.sign_up(client)
        _, order = await customer.place_and_finish([{"product_id": "b-mug", "quantity": 1}])
    assert order["status"] == "CONFIRMED", order

    async with release.admin_client("notifications", timeout=30) as admin:

        async def sent() -> list[dict[str, Any]] | None:
            mails = (await admin.get("/emails", params={"order_id": order["id"]})).json()
            return mails if mails and mails[0]["state"] == "sent" else None

        mails = await eventually(sent, within=60)
    assert mails[0]["kind"] == "confirmed"
