"""Integration tests of payments on the real PostgreSQL: Idempotency-Key, faults, refunds."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI

from shopmesh_common.db import Database
from shopmesh_common.testing import STACK_POSTGRES_URL, app_client, fresh_database
from shopmesh_payments.main import create_app
from shopmesh_payments.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

NO_FAULTS = {"decline_rate": 0, "error_rate": 0, "hang_rate": 0, "latency_ms": 0}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def app() -> AsyncIterator[FastAPI]:
    async with fresh_database("shopmesh_payments", prefix="payments") as url:
        settings = Settings(
            postgres_url=STACK_POSTGRES_URL,
            database=url.rsplit("/", 1)[1],
            provider_seed=1234,
            hang_seconds=0.2,
        )
        yield create_app(settings)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(app) as client:
        yield client


@pytest_asyncio.fixture(autouse=True, loop_scope="module")
async def _no_faults(client: httpx.AsyncClient) -> AsyncIterator[None]:
    assert (await _faults(client, **NO_FAULTS)).status_code == 200
    yield


def _db(app: FastAPI) -> Database:
    db: Database = app.state.db
    return db


def _id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


async def _faults(client: httpx.AsyncClient, **knobs: Any) -> httpx.Response:
    return await client.put("/admin/faults", json=knobs)


def _body(order_id: str, amount_cents: int = 1999) -> dict[str, Any]:
    return {"order_id": order_id, "customer_id": "cust-1", "amount_cents": amount_cents}


async def _charge(
    client: httpx.AsyncClient, body: dict[str, Any], key: str | None
) -> httpx.Response:
    headers = {} if key is None else {"Idempotency-Key": key}
    return await client.post("/charges", json=body, headers=headers)


async def _rows(app: FastAPI, order_id: str) -> list[dict[str, Any]]:
    rows = await _db(app).fetch("SELECT status FROM charges WHERE order_id = $1", order_id)
    return [dict(row) for row in rows]


async def _key_row(app: FastAPI, key: str) -> dict[str, Any] | None:
    row = await _db(app).fetchrow("SELECT state FROM idempotency_keys WHERE key = $1", key)
    return None if row is None else dict(row)


async def test_same_key_same_body_replays_one_charge(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    order, key = _id("order"), _id("key")
    first = await _charge(client, _body(order), key)
    assert first.status_code == 201
    body = first.json()
    assert body["status"] == "CHARGED"
    assert (body["order_id"], body["amount_cents"]) == (order, 1999)
    replay = await _charge(client, _body(order), key)
    assert replay.status_code == 201
    assert replay.content == first.content
    assert replay.headers["idempotent-replayed"] == "true"
    assert await _rows(app, order) == [{"status": "CHARGED"}]
    got = await client.get(f"/charges/{order}")
    assert got.status_code == 200
    assert got.json()["id"] == body["id"]


@pytest.mark.parametrize(
    ("key", "status", "type_"),
    [
        pytest.param(None, 400, "urn:shopmesh:idempotency-key-missing", id="missing"),
        pytest.param("", 400, "urn:shopmesh:idempotency-key-missing", id="empty"),
        pytest.param("short", 400, "urn:shopmesh:idempotency-key-malformed", id="too-short"),
        pytest.param("has spaces in it", 400, "urn:shopmesh:idempotency-key-malformed", id="sp"),
        pytest.param("k" * 129, 400, "urn:shopmesh:idempotency-key-malformed", id="too-long"),
    ],
)
async def test_missing_or_malformed_key_is_400_and_charges_nothing(
    app: FastAPI, client: httpx.AsyncClient, key: str | None, status: int, type_: str
) -> None:
    order = _id("order")
    response = await _charge(client, _body(order), key)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == type_
    assert await _rows(app, order) == []


async def test_same_key_different_body_is_422(app: FastAPI, client: httpx.AsyncClient) -> None:
    order, key = _id("order"), _id("key")
    assert (await _charge(client, _body(order), key)).status_code == 201
    reused = await _charge(client, _body(order, amount_cents=1), key)
    assert reused.status_code == 422
    assert reused.json()["type"] == "urn:shopmesh:idempotency-key-reused"
    other_order = _id("order")
    assert (await _charge(client, _body(other_order), key)).status_code == 422
    assert await _rows(app, other_order) == []


async def test_concurrent_same_key_one_runs_one_is_told_in_progress(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert (await _faults(client, latency_ms=1000)).status_code == 200
    order, key = _id("order"), _id("key")
    first, second = await asyncio.gather(
        _charge(client, _body(order), key), _charge(client, _body(order), key)
    )
    assert sorted([first.status_code, second.status_code]) == [201, 409]
    busy = first if first.status_code == 409 else second
    assert busy.json()["type"] == "urn:shopmesh:idempotency-key-in-progress"
    assert busy.headers["retry-after"] == "1"
    assert await _rows(app, order) == [{"status": "CHARGED"}]


async def test_decline_is_final_and_replayed(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert (await _faults(client, decline_rate=1)).status_code == 200
    order, key = _id("order"), _id("key")
    declined = await _charge(client, _body(order), key)
    assert declined.status_code == 402
    assert declined.headers["content-type"] == "application/problem+json"
    problem = declined.json()
    assert problem["type"] == "urn:shopmesh:payment-declined"
    assert problem["decline_reason"] == "insufficient_funds"
    await _faults(client, decline_rate=0)
    replay = await _charge(client, _body(order), key)
    assert replay.status_code == 402
    assert replay.content == declined.content
    assert await _rows(app, order) == [{"status": "DECLINED"}]
    # A new key is a new attempt: the decline is not the order's last word.
    retried = await _charge(client, _body(order), _id("key"))
    assert retried.status_code == 201
    assert retried.json()["id"] == problem["charge_id"]
    assert await _rows(app, order) == [{"status": "CHARGED"}]


async def test_provider_error_releases_the_key(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert (await _faults(client, error_rate=1)).status_code == 200
    order, key = _id("order"), _id("key")
    failed = await _charge(client, _body(order), key)
    assert failed.status_code == 503
    assert failed.json()["type"] == "urn:shopmesh:provider-error"
    assert await _key_row(app, key) is None
    assert await _rows(app, order) == []
    await _faults(client, error_rate=0)
    retried = await _charge(client, _body(order), key)
    assert retried.status_code == 201
    assert await _key_row(app, key) == {"state": "done"}


async def test_hang_answers_late_after_the_charge_committed(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert (await _faults(client, hang_rate=1)).status_code == 200
    order, key = _id("order"), _id("key")
    started = asyncio.get_running_loop().time()
    patient = await _charge(client, _body(order), key)
    assert patient.status_code == 201
    assert asyncio.get_running_loop().time() - started >= 0.2  # settings.hang_seconds

    gave_up = _id("order")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(_charge(client, _body(gave_up), _id("key")), timeout=0.1)
    # The caller gave up, but the money moved: the saga must refund it.
    assert await _rows(app, gave_up) == [{"status": "CHARGED"}]
    refund = await client.post(f"/charges/{gave_up}/refund")
    assert refund.json() == {"order_id": gave_up, "status": "REFUNDED"}


async def test_other_key_for_a_charged_order_returns_the_charge(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    order = _id("order")
    first = await _charge(client, _body(order), _id("key"))
    again = await _charge(client, _body(order), _id("key"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert await _rows(app, order) == [{"status": "CHARGED"}]


async def test_refund_transitions(app: FastAPI, client: httpx.AsyncClient) -> None:
    order = _id("order")
    assert (await _charge(client, _body(order), _id("key"))).status_code == 201
    for _ in range(2):  # idempotent
        refund = await client.post(f"/charges/{order}/refund")
        assert refund.status_code == 200
        assert refund.json() == {"order_id": order, "status": "REFUNDED"}
    assert (await client.get(f"/charges/{order}")).json()["status"] == "REFUNDED"
    late = await _charge(client, _body(order), _id("key"))
    assert late.status_code == 409
    assert late.json()["type"] == "urn:shopmesh:order-refunded"

    await _faults(client, decline_rate=1)
    declined = _id("order")
    assert (await _charge(client, _body(declined), _id("key"))).status_code == 402
    refund = await client.post(f"/charges/{declined}/refund")
    assert refund.json() == {"order_id": declined, "status": "NONE"}
    assert await _rows(app, declined) == [{"status": "DECLINED"}]


async def test_refund_before_charge_blocks_a_later_charge(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    order, key = _id("order"), _id("key")
    for _ in range(2):
        refund = await client.post(f"/charges/{order}/refund")
        assert refund.status_code == 200
        assert refund.json() == {"order_id": order, "status": "NONE"}
    assert await _rows(app, order) == [{"status": "REFUND_BEFORE_CHARGE"}]
    late = await _charge(client, _body(order), key)
    assert late.status_code == 409
    assert late.headers["content-type"] == "application/problem+json"
    assert late.json()["type"] == "urn:shopmesh:order-refunded"
    replay = await _charge(client, _body(order), key)
    assert (replay.status_code, replay.content) == (409, late.content)
    assert await _rows(app, order) == [{"status": "REFUND_BEFORE_CHARGE"}]


async def test_refund_during_a_slow_charge_wins(app: FastAPI, client: httpx.AsyncClient) -> None:
    assert (await _faults(client, latency_ms=500)).status_code == 200
    order = _id("order")
    charging = asyncio.create_task(_charge(client, _body(order), _id("key")))
    await asyncio.sleep(0.2)
    refund = await client.post(f"/charges/{order}/refund")
    assert refund.json()["status"] == "NONE"
    late = await charging
    assert late.status_code == 409
    assert await _rows(app, order) == [{"status": "REFUND_BEFORE_CHARGE"}]


async def test_unknown_charge_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/charges/{_id('none')}")
    assert response.status_code == 404
    assert response.json()["type"] == "urn:shopmesh:charge-not-found"


async def test_faults_admin_reads_and_changes_knobs(client: httpx.AsyncClient) -> None:
    changed = await _faults(client, decline_rate=0.25, latency_ms=10)
    assert changed.json() == {**NO_FAULTS, "decline_rate": 0.25, "latency_ms": 10}
    partial = await _faults(client, hang_rate=0.5)
    assert partial.json() == {**NO_FAULTS, "decline_rate": 0.25, "latency_ms": 10, "hang_rate": 0.5}
    assert (await client.get("/admin/faults")).json() == partial.json()


@pytest.mark.parametrize(
    "knobs",
    [
        pytest.param({"decline_rate": 1.1}, id="rate-above-1"),
        pytest.param({"error_rate": -0.5}, id="negative-rate"),
        pytest.param({"hang_rate": "often"}, id="rate-string"),
        pytest.param({"latency_ms": 60_001}, id="latency-too-high"),
        pytest.param({"latency_ms": -1}, id="latency-negative"),
        pytest.param({"decline_rate": 0.5, "chaos_monkey": True}, id="unknown-knob"),
    ],
)
async def test_faults_admin_validation_changes_nothing(
    client: httpx.AsyncClient, knobs: dict[str, Any]
) -> None:
    before = (await client.get("/admin/faults")).json()
    response = await _faults(client, **knobs)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert (await client.get("/admin/faults")).json() == before


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"order_id": "o-1", "customer_id": "c", "amount_cents": 0}, id="amount-0"),
        pytest.param({"order_id": "o-1", "customer_id": "c"}, id="no-amount"),
        pytest.param({"order_id": "o 1", "customer_id": "c", "amount_cents": 1}, id="bad-order"),
    ],
)
async def test_bad_charge_bodies_are_422_and_keep_no_key(
    app: FastAPI, client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    key = _id("key")
    response = await _charge(client, body, key)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert await _key_row(app, key) is None


async def test_metrics_count_outcomes(client: httpx.AsyncClient) -> None:
    await _charge(client, _body(_id("order")), _id("key"))
    text = (await client.get("/metrics")).text
    assert 'shopmesh_payments_charges_total{outcome="charged",service="payments"}' in text
