"""Key rotation at users, seen through the real gateway: tokens of the old key stay valid
during the overlap, the first token of the new key costs exactly one JWKS refetch, and a
burst of unknown kids costs no more."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
from gateway_testkit import KeySet, new_key
from shop_helpers import service_client

pytestmark = pytest.mark.integration

JWKS_SERVED = re.compile(
    r'^shopmesh_http_requests_total\{method="GET",route="/.well-known/jwks.json",'
    r'service="users",status_class="2xx"\} (\S+)$',
    re.M,
)


async def jwks_served(users: httpx.AsyncClient) -> int:
    """How often users has served its JWKS (its own request counter)."""
    found = JWKS_SERVED.search((await users.get("/metrics")).text)
    return 0 if found is None else int(float(found.group(1)))


async def test_rotation_keeps_old_tokens_and_refetches_once(gateway_shop: Any) -> None:
    async with gateway_shop.client() as gw, gateway_shop.client("users") as users:
        user_id, old_token = await gateway_shop.sign_up(gw)
        path = f"/api/users/{user_id}/orders"

        def bearer(token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}"}

        assert (await gw.get(path, headers=bearer(old_token))).status_code == 200
        served = await jwks_served(users)
        assert served >= 1

        async with service_client(gateway_shop.shop, "users", caller="admin") as admin:
            rotated = await admin.post("/admin/keys/rotate")
        assert rotated.status_code == 201, rotated.text
        new_kid = rotated.json()["kid"]

        login = await gw.post(
            "/api/auth/login",
            json={"email": (await users_email(gateway_shop, user_id)), "password": "correct horse"},
        )
        new_token = login.json()["access_token"]
        assert KeySet.kid_of(new_token) == new_kid
        assert (await gw.get(path, headers=bearer(new_token))).status_code == 200
        assert await jwks_served(users) == served + 1  # exactly one refetch
        assert (await gw.get(path, headers=bearer(old_token))).status_code == 200

        forged = KeySet(keys=[new_key() for _ in range(10)])
        answers = await asyncio.gather(
            *(gw.get(path, headers=bearer(forged.token(key, sub=user_id))) for key in forged.keys)
        )
        assert {a.status_code for a in answers} == {401}
        assert await jwks_served(users) == served + 1  # unknown kids: throttled


async def users_email(gateway_shop: Any, user_id: str) -> str:
    rows = await gateway_shop.sql("users", "SELECT email FROM users WHERE id = $1::uuid", user_id)
    return str(rows[0]["email"])
