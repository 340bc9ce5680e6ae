"""The shop's story on the running services (`make demo-shop`): what each pattern does.

Seeds products, signs a customer up, logs in, places an order twice with one
Idempotency-Key, places one that fails (out of stock), follows both sagas to the end, and
shows the email and the read model that events produced. Talks to 127.0.0.1:8101-8106.
"""

from __future__ import annotations

import asyncio
import uuid

import httpx

URL = {
    name: f"http://127.0.0.1:{port}"
    for name, port in [
        ("users", 8101),
        ("orders", 8102),
        ("inventory", 8103),
        ("payments", 8104),
        ("notifications", 8105),
        ("order-history", 8106),
    ]
}


async def wait_terminal(client: httpx.AsyncClient, order_id: str) -> dict[str, object]:
    for _ in range(150):
        order = (
            await client.get(f"{URL['orders']}/orders/{order_id}", params={"steps": True})
        ).json()
        if order["status"] in ("CONFIRMED", "FAILED"):
            return dict(order)
        await asyncio.sleep(0.2)
    raise SystemExit(f"order {order_id} did not finish")


async def main() -> None:
    async with httpx.AsyncClient(timeout=30) as client:
        await client.post(
            f"{URL['inventory']}/admin/products",
            json={"id": "demo-mug", "name": "Mesh mug", "price_cents": 1299, "stock": 5},
        )
        email = f"ada-{uuid.uuid4().hex[:6]}@example.com"
        user = (
            await client.post(
                f"{URL['users']}/signup",
                json={"email": email, "password": "correct horse", "name": "Ada"},
            )
        ).json()
        token = (
            await client.post(
                f"{URL['users']}/login", json={"email": email, "password": "correct horse"}
            )
        ).json()
        print(
            f"signed up {user['name']} <{email}> ({user['id']}); "
            f"token expires in {token['expires_in']}s"
        )
        headers = {"X-User-Id": user["id"], "Idempotency-Key": f"demo-{uuid.uuid4()}"}
        body = {"items": [{"product_id": "demo-mug", "quantity": 2}]}
        first = await client.post(f"{URL['orders']}/orders", json=body, headers=headers)
        again = await client.post(f"{URL['orders']}/orders", json=body, headers=headers)
        print(
            f"POST /orders -> {first.status_code} {first.json()}; same key again -> "
            f"{again.status_code} {again.json()} "
            f"(replayed: {again.headers.get('idempotent-replayed')})"
        )
        headers["Idempotency-Key"] = f"demo-{uuid.uuid4()}"
        too_many = await client.post(
            f"{URL['orders']}/orders",
            headers=headers,
            json={"items": [{"product_id": "demo-mug", "quantity": 50}]},
        )
        for placed in (first, too_many):
            order = await wait_terminal(client, placed.json()["id"])
            steps = " -> ".join(f"{s['step']}:{s['outcome']}" for s in order["steps"])  # type: ignore[union-attr]
            print(f"order {order['id']}: {order['status']} {order['reason'] or ''} [{steps}]")
        await asyncio.sleep(2)  # emails and the read model follow events
        for placed in (first, too_many):
            mails = (
                await client.get(
                    f"{URL['notifications']}/emails", params={"order_id": placed.json()["id"]}
                )
            ).json()
            print(f"emails for {placed.json()['id']}: {mails}")
        history = (await client.get(f"{URL['order-history']}/users/{user['id']}/orders")).json()
        print(f"my orders (read model): {history}")


if __name__ == "__main__":
    asyncio.run(main())
