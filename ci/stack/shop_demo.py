"""The shop's story on the running services (`make demo-shop`): what each pattern does.

A customer's side goes through the gateway (127.0.0.1:8100, or SHOPMESH_GATEWAY_URL) with a
real JWT: sign up, log in, list products, place an order twice with one Idempotency-Key,
place one that fails (out of stock), follow both to the end, and read "my orders" composed
from users and the order-history read model. Behind the scenes it seeds a product and shows
the emails the events caused, calling inventory and notifications directly (8103, 8105, or
SHOPMESH_INVENTORY_URL and SHOPMESH_NOTIFICATIONS_URL) with an "admin" service token when
the shop runs with one (ci/stack/shop.sh makes the secret; ci/demo.sh passes the cluster's).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import httpx

from shopmesh_common.service_auth import HS256TokenSource

# The loopback processes of `make shop-up` by default; `make demo` points these at the
# shop in the cluster (the gateway's NodePort, a Ready pod of each internal service, the
# release's service-token secret): ci/demo.sh.
GATEWAY = os.environ.get("SHOPMESH_GATEWAY_URL", "http://127.0.0.1:8100")
URL = {
    "inventory": os.environ.get("SHOPMESH_INVENTORY_URL", "http://127.0.0.1:8103"),
    "notifications": os.environ.get("SHOPMESH_NOTIFICATIONS_URL", "http://127.0.0.1:8105"),
}
SECRET_FILE = Path(__file__).resolve().parents[2] / ".shopmesh" / "shop" / "service-token-secret"


def admin_headers(service: str) -> dict[str, str]:
    """A service token as the operator ("admin") for `service`, if the shop uses tokens."""
    secret = os.environ.get("SHOPMESH_SERVICE_TOKEN_SECRET")
    if secret is None and SECRET_FILE.exists():
        secret = SECRET_FILE.read_text()
    if not secret:
        return {}
    source = HS256TokenSource(secret.strip().encode(), caller="admin")
    return {"Authorization": f"Bearer {source.token_for(service)}"}


async def wait_terminal(
    gateway: httpx.AsyncClient, order_id: str, auth: dict[str, str]
) -> dict[str, object]:
    for _ in range(150):
        order = (await gateway.get(f"/api/orders/{order_id}", headers=auth)).json()
        if order["status"] in ("CONFIRMED", "FAILED"):
            return dict(order)
        await asyncio.sleep(0.2)
    raise SystemExit(f"order {order_id} did not finish")


async def main() -> None:
    async with (
        httpx.AsyncClient(timeout=30, trust_env=False) as client,
        httpx.AsyncClient(base_url=GATEWAY, timeout=30, trust_env=False) as gateway,
    ):
        await client.post(
            f"{URL['inventory']}/admin/products",
            json={"id": "demo-mug", "name": "Mesh mug", "price_cents": 1299, "stock": 5},
            headers=admin_headers("inventory"),
        )
        email = f"ada-{uuid.uuid4().hex[:6]}@example.com"
        signup = await gateway.post(
            "/api/auth/signup", json={"email": email, "password": "correct horse", "name": "Ada"}
        )
        user = signup.json()
        token = (
            await gateway.post(
                "/api/auth/login", json={"email": email, "password": "correct horse"}
            )
        ).json()
        auth = {"Authorization": f"Bearer {token['access_token']}"}
        print(
            f"signed up {user['name']} <{email}> ({user['id']}) through the gateway; "
            f"JWT expires in {token['expires_in']}s"
        )
        anonymous = await gateway.get(f"/api/users/{user['id']}/orders")
        print(f"my orders without a token -> {anonymous.status_code} {anonymous.json()['detail']}")
        products = await gateway.get("/api/products")
        print(
            f"GET /api/products -> {products.status_code}, {len(products.json())} products "
            f"(RateLimit-Remaining: {products.headers.get('ratelimit-remaining')})"
        )
        # The X-User-Id sent here is ignored: the gateway passes on the JWT's subject.
        headers = {**auth, "Idempotency-Key": f"demo-{uuid.uuid4()}", "X-User-Id": "someone-else"}
        body = {"items": [{"product_id": "demo-mug", "quantity": 2}]}
        first = await gateway.post("/api/orders", json=body, headers=headers)
        again = await gateway.post("/api/orders", json=body, headers=headers)
        print(
            f"POST /api/orders -> {first.status_code} {first.json()}; same key again -> "
            f"{again.status_code} {again.json()} "
            f"(replayed: {again.headers.get('idempotent-replayed')})"
        )
        invalid = await gateway.post(
            "/api/orders", json={"items": []}, headers={**auth, "Idempotency-Key": "demo-bad-1"}
        )
        print(
            f"an empty order -> {invalid.status_code} {invalid.json()['detail']} (never forwarded)"
        )
        headers["Idempotency-Key"] = f"demo-{uuid.uuid4()}"
        too_many = await gateway.post(
            "/api/orders",
            headers=headers,
            json={"items": [{"product_id": "demo-mug", "quantity": 50}]},
        )
        for placed in (first, too_many):
            order = await wait_terminal(gateway, placed.json()["id"], auth)
            print(f"order {order['id']}: {order['status']} {order['reason'] or ''}")
        await asyncio.sleep(2)  # emails and the read model follow events
        for placed in (first, too_many):
            mails = (
                await client.get(
                    f"{URL['notifications']}/emails",
                    params={"order_id": placed.json()["id"]},
                    headers=admin_headers("notifications"),
                )
            ).json()
            print(f"emails for {placed.json()['id']}: {mails}")
        mine = (await gateway.get(f"/api/users/{user['id']}/orders", headers=auth)).json()
        print(f"my orders (users + the order-history read model, composed): {mine}")


if __name__ == "__main__":
    asyncio.run(main())
