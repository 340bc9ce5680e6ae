"""GET /api/users/{id}/orders on the real services, with each backend down in turn:
order-history down (the last good orders, marked stale; or none when the cache is off),
then users down (the user from order-history's own copy), then both back."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.integration


async def composed(gw: httpx.AsyncClient, user_id: str, token: str) -> httpx.Response:
    return await gw.get(
        f"/api/users/{user_id}/orders", headers={"Authorization": f"Bearer {token}"}
    )


async def until_history_has(gw: httpx.AsyncClient, user_id: str, token: str, order_id: str) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = (await composed(gw, user_id, token)).json()
        orders = body.get("orders") or []
        if any(o["id"] == order_id for o in orders) and body["user"] is not None:
            return body
        await asyncio.sleep(0.2)
    raise AssertionError("order-history never showed the order")


async def test_each_backend_down_in_turn(gateway_shop: Any) -> None:
    shop = gateway_shop.shop
    no_cache = gateway_shop.start_gateway("gateway-no-cache", SHOPMESH_COMPOSITION_CACHE="false")
    try:
        async with gateway_shop.client() as gw, gateway_shop.client("gateway-no-cache") as bare:
            user_id, token = await gateway_shop.sign_up(gw)
            placed = await gw.post(
                "/api/orders",
                json={"items": [{"product_id": "p2", "quantity": 1}]},
                headers={
                    "Authorization": f"Bearer {token}",
                    "Idempotency-Key": f"k-{uuid.uuid4()}",
                },
            )
            assert placed.status_code == 202, placed.text
            order_id = placed.json()["id"]
            good = await until_history_has(gw, user_id, token, order_id)
            assert good["degraded"] is False
            assert good["user"]["id"] == user_id
            assert (await composed(bare, user_id, token)).json()["degraded"] is False

            shop.procs["order-history"].kill()
            cached = (await composed(gw, user_id, token)).json()
            assert cached["degraded"] is True
            assert cached["unavailable"] == ["order-history"]
            assert cached["stale"] is True
            assert cached["user"]["id"] == user_id
            assert [o["id"] for o in cached["orders"]] == [o["id"] for o in good["orders"]]
            uncached = await composed(bare, user_id, token)
            assert uncached.status_code == 200
            assert uncached.json() == {
                "user": good["user"],
                "orders": None,
                "degraded": True,
                "unavailable": ["order-history"],
            }

            shop.procs["order-history"].start()
            shop.procs["order-history"].wait_ready()
            shop.procs["users"].kill()
            without_users = await composed(bare, user_id, token)
            assert without_users.status_code == 200, without_users.text
            body = without_users.json()
            assert body["degraded"] is True
            assert body["unavailable"] == ["users"]
            assert body["user"]["id"] == user_id  # order-history's copy of the customer
            assert order_id in [o["id"] for o in body["orders"]]
            assert "stale" not in body

            shop.procs["users"].start()
            shop.procs["users"].wait_ready()
            await asyncio.sleep(5.5)  # the users breaker's open wait
            back = (await composed(bare, user_id, token)).json()
            assert back["degraded"] is False
    finally:
        no_cache.stop()
