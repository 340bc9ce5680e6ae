"""Validation at the real gateway in front of the real orders service: every rejected
request (413, 415, 422, 400) leaves orders' database as it was; a good one is placed for
the verified user, whatever X-User-Id the client sent, and only its owner may read it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

pytestmark = pytest.mark.integration

GOOD = {"items": [{"product_id": "p1", "quantity": 1}]}
JSON = "application/json"


async def chunked(total: int) -> AsyncIterator[bytes]:
    yield b'{"items": [], "pad": "'
    for _ in range(total // 1024 + 1):
        yield b"x" * 1024
    yield b'"}'


ROWS: list[Any] = [
    pytest.param({"Content-Type": JSON}, b"x" * (64 * 1024 + 1), 413, id="content-length-over"),
    pytest.param({"Content-Type": JSON}, chunked(256 * 1024), 413, id="chunked-over"),
    pytest.param({}, json.dumps(GOOD).encode(), 415, id="no-content-type"),
    pytest.param({"Content-Type": "text/plain"}, json.dumps(GOOD).encode(), 415, id="text"),
    pytest.param({"Content-Type": JSON}, b"{", 422, id="malformed-json"),
    pytest.param({"Content-Type": JSON}, b'{"items": []}', 422, id="no-items"),
    pytest.param(
        {"Content-Type": JSON},
        b'{"items": [{"product_id": "p1", "quantity": -1}]}',
        422,
        id="negative",
    ),
    pytest.param(
        {"Content-Type": JSON},
        json.dumps({**GOOD, "customer_id": "victim"}).encode(),
        422,
        id="extra-field",
    ),
    pytest.param(
        {"Content-Type": JSON, "Idempotency-Key": ""}, json.dumps(GOOD).encode(), 400, id="no-key"
    ),
]


async def orders_state(gateway_shop: Any) -> tuple[int, int, int]:
    counts = []
    for table in ("orders", "idempotency_keys", "outbox"):
        rows = await gateway_shop.sql("orders", f"SELECT count(*) AS n FROM {table}")
        counts.append(int(rows[0]["n"]))
    return counts[0], counts[1], counts[2]


@pytest.mark.parametrize(("headers", "content", "status"), ROWS)
async def test_rejected_requests_change_nothing(
    gateway_shop: Any, headers: dict[str, str], content: Any, status: int
) -> None:
    async with gateway_shop.client() as gw:
        _, token = await gateway_shop.sign_up(gw)
        before = await orders_state(gateway_shop)
        all_headers = {
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": f"key-{uuid.uuid4()}",
            **headers,
        }
        if not all_headers["Idempotency-Key"]:
            del all_headers["Idempotency-Key"]
        answer = await gw.post("/api/orders", content=content, headers=all_headers)
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert await orders_state(gateway_shop) == before


async def test_orders_are_placed_for_the_verified_user_only(gateway_shop: Any) -> None:
    async with gateway_shop.client() as gw:
        user_id, token = await gateway_shop.sign_up(gw)
        _, other_token = await gateway_shop.sign_up(gw)
        key = f"key-{uuid.uuid4()}"
        headers = {
            "Authorization": f"Bearer {token}",
            "Idempotency-Key": key,
            "X-User-Id": "victim",
            "X-ShopMesh-Identity-Role": "admin",
        }
        placed = await gw.post("/api/orders", json=GOOD, headers=headers)
        assert placed.status_code == 202, placed.text
        order_id = placed.json()["id"]
        assert placed.headers["location"] == f"/api/orders/{order_id}"
        again = await gw.post("/api/orders", json=GOOD, headers=headers)
        assert again.json()["id"] == order_id  # the Idempotency-Key was passed on

        rows = await gateway_shop.sql(
            "orders", "SELECT customer_id FROM orders WHERE id = $1::uuid", order_id
        )
        assert [r["customer_id"] for r in rows] == [user_id]
        victims = await gateway_shop.sql(
            "orders", "SELECT count(*) AS n FROM orders WHERE customer_id = 'victim'"
        )
        assert victims[0]["n"] == 0

        mine = await gw.get(f"/api/orders/{order_id}", headers={"Authorization": f"Bearer {token}"})
        assert mine.status_code == 200
        assert set(mine.json()) == {"id", "status", "reason", "items", "total_cents"}
        theirs = await gw.get(
            f"/api/orders/{order_id}", headers={"Authorization": f"Bearer {other_token}"}
        )
        assert theirs.status_code == 404
        missing = await gw.get(
            f"/api/orders/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}
        )
        assert missing.status_code == 404
        assert theirs.json()["type"] == missing.json()["type"]  # no probing for others' ids


async def test_public_routes_and_headers(gateway_shop: Any) -> None:
    async with gateway_shop.client() as gw:
        products = await gw.get("/api/products", headers={"X-Request-ID": "req-edge-1"})
        assert products.status_code == 200
        assert {p["id"] for p in products.json()} >= {"p1", "p2"}
        assert products.headers["x-request-id"] == "req-edge-1"
        assert products.headers["x-content-type-options"] == "nosniff"
        assert products.headers["x-frame-options"] == "DENY"
        jwks = await gw.get("/.well-known/jwks.json")
        assert jwks.status_code == 200
        assert jwks.json()["keys"][0]["kty"] == "EC"
        for path in ("/health/live", "/health/ready", "/metrics"):
            assert (await gw.get(path)).status_code == 200
