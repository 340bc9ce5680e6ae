"""Integration tests of inventory's reservations on the real PostgreSQL (stack.sh up)."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from shopmesh_common.db import Database
from shopmesh_common.testing import STACK_POSTGRES_URL, app_client, fresh_database
from shopmesh_inventory.main import create_app
from shopmesh_inventory.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app() -> AsyncIterator[FastAPI]:
    async with fresh_database("shopmesh_inventory", prefix="inventory") as url:
        settings = Settings(
            postgres_url=STACK_POSTGRES_URL,
            database=url.rsplit("/", 1)[1],
            sweeper_enabled=False,
            db_pool_size=20,
        )
        yield create_app(settings)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        yield client


def _db(app: FastAPI) -> Database:
    db: Database = app.state.db
    return db


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _product(client: httpx.AsyncClient, stock: int, price_cents: int = 500) -> str:
    product_id = _id("p")
    response = await client.post(
        "/admin/products",
        json={"id": product_id, "name": "Thing", "price_cents": price_cents, "stock": stock},
    )
    assert response.status_code == 201, response.text
    return product_id


async def _stock(app: FastAPI, product_id: str) -> tuple[int, int, int]:
    row = await _db(app).fetchrow(
        "SELECT available, reserved, sold FROM products WHERE id = $1", product_id
    )
    assert row is not None
    return row["available"], row["reserved"], row["sold"]


async def _reserve(
    client: httpx.AsyncClient, order_id: str, items: list[tuple[str, int]], **extra: Any
) -> httpx.Response:
    body = {"order_id": order_id, "items": [{"product_id": p, "quantity": q} for p, q in items]}
    return await client.post("/reservations", json={**body, **extra})


async def test_fifty_concurrent_reserves_against_twenty_units(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    product = await _product(client, stock=20)
    responses = await asyncio.gather(
        *(_reserve(client, _id("order"), [(product, 1)]) for _ in range(50))
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 20 + [409] * 30
    refused = next(r for r in responses if r.status_code == 409)
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == "urn:shopmesh:out-of-stock"
    assert await _stock(app, product) == (0, 20, 0)


async def test_concurrent_multi_product_reserves_conserve_stock(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    a, b, c = [await _product(client, stock=15) for _ in range(3)]
    # Overlapping products listed in different orders: the id-ordered locks avoid deadlocks.
    shapes = [[(a, 2), (b, 1)], [(c, 1), (b, 2)], [(b, 1), (a, 1), (c, 2)]]
    responses = await asyncio.gather(
        *(_reserve(client, _id("order"), shapes[i % 3]) for i in range(30))
    )
    assert {r.status_code for r in responses} <= {201, 409}
    held: dict[str, int] = {a: 0, b: 0, c: 0}
    for response in responses:
        if response.status_code == 201:
            for item in response.json()["items"]:
                held[item["product_id"]] += item["quantity"]
    for product in (a, b, c):
        available, reserved, sold = await _stock(app, product)
        assert (available + reserved + sold, reserved, sold) == (15, held[product], 0)


async def test_reserve_answers_the_contract_and_is_idempotent(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    a, b = await _product(client, 10, price_cents=250), await _product(client, 10, price_cents=99)
    order = _id("order")
    first = await _reserve(client, order, [(a, 2), (b, 3)])
    assert first.status_code == 201
    body = first.json()
    assert body["order_id"] == order
    assert body["status"] == "RESERVED"
    assert body["items"] == [
        {"product_id": a, "quantity": 2, "unit_price_cents": 250},
        {"product_id": b, "quantity": 3, "unit_price_cents": 99},
    ]
    assert body["total_cents"] == 2 * 250 + 3 * 99
    assert body["expires_at"]
    again = await _reserve(client, order, [(b, 3), (a, 2)])
    assert again.status_code == 200
    assert again.json() == body
    assert await _stock(app, a) == (8, 2, 0)
    other = await _reserve(client, order, [(a, 1)])
    assert other.status_code == 409
    assert other.json()["type"] == "urn:shopmesh:reservation-mismatch"
    assert await _stock(app, a) == (8, 2, 0)


async def test_out_of_stock_names_product_and_available(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    a, b = await _product(client, 5), await _product(client, 2)
    response = await _reserve(client, _id("order"), [(a, 1), (b, 3)])
    assert response.status_code == 409
    problem = response.json()
    assert problem["type"] == "urn:shopmesh:out-of-stock"
    assert b in problem["detail"]
    assert "available 2" in problem["detail"]
    assert (problem["product_id"], problem["requested"], problem["available"]) == (b, 3, 2)
    assert await _stock(app, a) == (5, 0, 0)  # all-or-nothing: the first line was not held


async def test_commit_and_release_transitions(app: FastAPI, client: httpx.AsyncClient) -> None:
    product = await _product(client, 10)
    paid, failed = _id("paid"), _id("failed")
    assert (await _reserve(client, paid, [(product, 3)])).status_code == 201
    assert (await _reserve(client, failed, [(product, 2)])).status_code == 201
    assert await _stock(app, product) == (5, 5, 0)

    for _ in range(2):  # idempotent
        committed = await client.post(f"/reservations/{paid}/commit")
        assert committed.status_code == 200
        assert committed.json()["status"] == "COMMITTED"
        released = await client.post(f"/reservations/{failed}/release")
        assert released.status_code == 200
        assert released.json()["status"] == "RELEASED"
        assert released.json()["reason"] == "released"
    assert await _stock(app, product) == (7, 0, 3)

    refused = await client.post(f"/reservations/{failed}/commit")
    assert refused.status_code == 409
    assert refused.json()["type"] == "urn:shopmesh:reservation-released"
    assert (await client.post(f"/reservations/{_id('nobody')}/commit")).status_code == 404
    late = await _reserve(client, failed, [(product, 2)])
    assert late.status_code == 409
    assert late.json()["type"] == "urn:shopmesh:reservation-released"
    committed_again = await _reserve(client, paid, [(product, 3)])
    assert committed_again.status_code == 200
    assert committed_again.json()["status"] == "COMMITTED"
    assert await _stock(app, product) == (7, 0, 3)
    got = await client.get(f"/reservations/{paid}")
    assert got.status_code == 200
    assert got.json()["status"] == "COMMITTED"

    # The saga's compensation after a lost commit answer: the sold units come back.
    for _ in range(2):  # idempotent
        returned = await client.post(f"/reservations/{paid}/release")
        assert returned.status_code == 200
        assert returned.json()["status"] == "RELEASED"
    assert await _stock(app, product) == (10, 0, 0)


async def test_release_before_reserve_leaves_a_tombstone(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    product = await _product(client, 4)
    order = _id("order")
    released = await client.post(f"/reservations/{order}/release")
    assert released.status_code == 200
    assert released.json() == {
        "order_id": order,
        "status": "RELEASED",
        "items": [],
        "total_cents": 0,
        "expires_at": None,
        "reason": "released-before-reserve",
    }
    late = await _reserve(client, order, [(product, 1)])
    assert late.status_code == 409
    assert late.json()["type"] == "urn:shopmesh:reservation-released"
    assert await _stock(app, product) == (4, 0, 0)
    assert (await client.post(f"/reservations/{order}/release")).status_code == 200


async def test_concurrent_release_and_reserve_of_one_order(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    product = await _product(client, 100)
    orders = [_id("race") for _ in range(20)]
    results = await asyncio.gather(
        *(_reserve(client, o, [(product, 1)]) for o in orders),
        *(client.post(f"/reservations/{o}/release") for o in orders),
    )
    assert {r.status_code for r in results} <= {200, 201, 409}
    # Whichever came first, every order ends released and no unit stays held.
    assert await _stock(app, product) == (100, 0, 0)


BAD_REQUESTS = [
    pytest.param({"order_id": "o-bad", "items": []}, 422, id="no-items"),
    pytest.param(
        {"order_id": "o-bad", "items": [{"product_id": "P", "quantity": 0}]}, 422, id="q0"
    ),
    pytest.param(
        {"order_id": "o-bad", "items": [{"product_id": "P", "quantity": 1}] * 2}, 422, id="dup"
    ),
    pytest.param(
        {"order_id": "o-bad", "items": [{"product_id": "P", "quantity": 101}]}, 422, id="101"
    ),
    pytest.param(
        {"order_id": "o-bad", "items": [{"product_id": "P", "quantity": 1}], "x": 1},
        422,
        id="extra",
    ),
    pytest.param(
        {
            "order_id": "o-bad",
            "items": [{"product_id": "P", "quantity": 1}, {"product_id": "nope", "quantity": 1}],
        },
        422,
        id="unknown-product",
    ),
    pytest.param(
        {"order_id": "o-bad", "items": [{"product_id": "P", "quantity": 99}]}, 409, id="oos"
    ),
    pytest.param(
        {"order_id": "o-bad", "items": [{"product_id": "P", "quantity": 1}], "ttl_seconds": 0},
        422,
        id="ttl-0",
    ),
    pytest.param("not json", 422, id="not-json"),
]


@pytest.mark.parametrize(("body", "status"), BAD_REQUESTS)
async def test_bad_requests_are_problems_and_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, body: Any, status: int
) -> None:
    product = await _product(client, 5)
    body = copy.deepcopy(body)
    if isinstance(body, dict):
        for item in body["items"]:
            item["product_id"] = product if item["product_id"] == "P" else item["product_id"]
        body["order_id"] = _id("bad")
    before = await _db(app).fetch("SELECT * FROM products ORDER BY id")
    reservations_before = await _db(app).fetchrow("SELECT count(*) AS n FROM reservations")
    if isinstance(body, dict):
        response = await client.post("/reservations", json=body)
    else:
        response = await client.post(
            "/reservations", content=body, headers={"content-type": "application/json"}
        )
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status
    assert await _db(app).fetch("SELECT * FROM products ORDER BY id") == before
    assert await _db(app).fetchrow("SELECT count(*) AS n FROM reservations") == reservations_before


async def test_bad_path_and_unknown_reservation(client: httpx.AsyncClient) -> None:
    assert (await client.get("/reservations/has%20space")).status_code == 422
    missing = await client.get(f"/reservations/{_id('none')}")
    assert missing.status_code == 404
    assert missing.json()["type"] == "urn:shopmesh:reservation-not-found"
