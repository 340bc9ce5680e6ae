"""Integration tests of inventory's expiry sweeper, product admin and seeding (real PostgreSQL)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from shopmesh_common.db import Database
from shopmesh_common.testing import STACK_POSTGRES_URL, app_client, fresh_database
from shopmesh_inventory.main import create_app
from shopmesh_inventory.seed import DEMO_PRODUCTS, seed
from shopmesh_inventory.service_layer.sweeper import sweep_expired
from shopmesh_inventory.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def settings() -> AsyncIterator[Settings]:
    async with fresh_database("shopmesh_inventory", prefix="inventory") as url:
        yield Settings(
            postgres_url=STACK_POSTGRES_URL, database=url.rsplit("/", 1)[1], sweeper_enabled=False
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    app = create_app(settings)
    yield app


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        yield client


def _db(app: FastAPI) -> Database:
    db: Database = app.state.db
    return db


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def _product(client: httpx.AsyncClient, stock: int) -> str:
    product_id = _id("p")
    body = {"id": product_id, "name": "Thing", "price_cents": 300, "stock": stock}
    assert (await client.post("/admin/products", json=body)).status_code == 201
    return product_id


async def _stock(client: httpx.AsyncClient, product_id: str) -> tuple[int, int, int]:
    body = (await client.get(f"/products/{product_id}")).json()
    return body["stock"], body["reserved"], body["sold"]


async def _reserve(client: httpx.AsyncClient, order: str, product: str, ttl: int) -> None:
    body = {
        "order_id": order,
        "items": [{"product_id": product, "quantity": 2}],
        "ttl_seconds": ttl,
    }
    assert (await client.post("/reservations", json=body)).status_code == 201


async def _backdate(app: FastAPI, order: str) -> None:
    """Make a reservation overdue without waiting for it."""
    await _db(app).fetch(
        "UPDATE reservations SET expires_at = now() - interval '1 second' WHERE order_id = $1",
        order,
    )


async def test_sweeper_releases_overdue_reservations(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    product = await _product(client, 10)
    overdue, fresh = _id("overdue"), _id("fresh")
    await _reserve(client, overdue, product, ttl=60)
    await _reserve(client, fresh, product, ttl=60)
    await _backdate(app, overdue)
    assert await _stock(client, product) == (6, 4, 0)

    assert await sweep_expired(_db(app), batch=1) >= 1
    assert await _stock(client, product) == (8, 2, 0)
    swept = (await client.get(f"/reservations/{overdue}")).json()
    assert (swept["status"], swept["reason"]) == ("RELEASED", "expired")
    assert (await client.get(f"/reservations/{fresh}")).json()["status"] == "RESERVED"
    assert await sweep_expired(_db(app)) == 0
    metrics = (await client.get("/metrics")).text
    assert 'shopmesh_inventory_reservations_total{outcome="expired",service="inventory"}' in metrics

    late_commit = await client.post(f"/reservations/{overdue}/commit")
    assert late_commit.status_code == 409
    assert late_commit.json()["reason"] == "expired"
    late_reserve = await client.post(
        "/reservations",
        json={"order_id": overdue, "items": [{"product_id": product, "quantity": 2}]},
    )
    assert late_reserve.status_code == 409


async def test_overdue_reservation_is_settled_by_commit_before_the_sweeper(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    product = await _product(client, 5)
    order = _id("order")
    await _reserve(client, order, product, ttl=60)
    await _backdate(app, order)
    refused = await client.post(f"/reservations/{order}/commit")
    assert refused.status_code == 409
    assert refused.json()["type"] == "urn:shopmesh:reservation-released"
    assert await _stock(client, product) == (5, 0, 0)  # the expiry committed despite the 409


async def test_background_sweeper_returns_stock(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"sweeper_enabled": True, "sweep_seconds": 0.1}))
    async with app_client(app) as client:
        product = await _product(client, 3)
        order = _id("order")
        await _reserve(client, order, product, ttl=1)
        assert await _stock(client, product) == (1, 2, 0)
        for _ in range(50):
            await asyncio.sleep(0.1)
            row = await _db(app).fetchrow(
                "SELECT status, reason FROM reservations WHERE order_id = $1", order
            )
            if row is not None and row["status"] == "RELEASED":
                break
        assert row is not None
        assert (row["status"], row["reason"]) == ("RELEASED", "expired")
        assert await _stock(client, product) == (3, 0, 0)


async def test_admin_upsert_creates_then_restocks(client: httpx.AsyncClient) -> None:
    product = await _product(client, 10)
    order = _id("order")
    await _reserve(client, order, product, ttl=60)
    assert (await client.post(f"/reservations/{order}/commit")).status_code == 200
    await _reserve(client, _id("order"), product, ttl=60)
    restock = {"id": product, "name": "Renamed", "price_cents": 450, "stock": 7}
    response = await client.post("/admin/products", json=restock)
    assert response.status_code == 201
    assert response.json() == {
        "id": product,
        "name": "Renamed",
        "price_cents": 450,
        "stock": 7,
        "reserved": 2,
        "sold": 2,
    }
    listed = (await client.get("/products")).json()
    assert next(p for p in listed if p["id"] == product)["stock"] == 7
    assert {"id", "name", "price_cents", "stock"} <= set(listed[0])


@pytest.mark.parametrize(
    ("body", "status"),
    [
        pytest.param({"id": "x", "name": "X", "price_cents": 0, "stock": 1}, 422, id="price-0"),
        pytest.param({"id": "x", "name": "X", "price_cents": 1, "stock": -1}, 422, id="stock-neg"),
        pytest.param({"id": "x y", "name": "X", "price_cents": 1, "stock": 1}, 422, id="bad-id"),
        pytest.param({"id": "x", "name": "X", "price_cents": 1}, 422, id="no-stock"),
    ],
)
async def test_admin_upsert_rejections_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, body: dict[str, object], status: int
) -> None:
    before = await _db(app).fetch("SELECT * FROM products ORDER BY id")
    response = await client.post("/admin/products", json=body)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert await _db(app).fetch("SELECT * FROM products ORDER BY id") == before


async def test_unknown_product_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/products/{_id('none')}")
    assert response.status_code == 404
    assert response.json()["type"] == "urn:shopmesh:product-not-found"


async def test_seed_upserts_the_demo_products(
    settings: Settings, client: httpx.AsyncClient
) -> None:
    seeded = await seed(settings, stock=42)
    assert [p.id for p in seeded] == [p[0] for p in DEMO_PRODUCTS]
    for product_id, *_ in DEMO_PRODUCTS:
        assert (await _stock(client, product_id))[0] == 42
    await seed(settings)  # again: a restock to the defaults
    first_id, _, _, default_stock = DEMO_PRODUCTS[0]
    assert (await _stock(client, first_id))[0] == default_stock
