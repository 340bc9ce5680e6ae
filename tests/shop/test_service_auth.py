"""Service-to-service identity on the real shop processes: internal endpoints refuse a call
without a valid service token for them (401) or from a caller they do not allow (403), and
change nothing when they refuse; the saga, whose services call each other with tokens,
still confirms an order end to end.

One shop serves the whole module (starting six processes per case would be most of the run);
it is built and torn down exactly like the `make_shop` fixture's.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families
from shop_helpers import delete_queues, seed, service_client, wait_finished
from shop_processes import Shop

from shopmesh_common.problems import PROBLEM_JSON
from shopmesh_common.service_auth import mint_token

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def shop() -> AsyncIterator[Shop]:
    shop = Shop()
    await shop.create_databases()
    shop.configure()
    try:
        shop.start()
        await seed(shop, stock=50)
        yield shop
    finally:
        shop.stop()
        await delete_queues(shop)
        await shop.drop_databases()


def bearer(
    shop: Shop,
    *,
    caller: str,
    audience: str,
    secret: str | None = None,
    issued_ago: float = 0,
) -> dict[str, str]:
    token = mint_token(
        secret=(secret or shop.service_token_secret).encode(),
        caller=caller,
        audience=audience,
        ttl_seconds=60,
        now=time.time() - issued_ago,
    )
    return {"Authorization": f"Bearer {token}"}


async def reservation_status(shop: Shop, order_id: str) -> str | None:
    conn = await asyncpg.connect(shop.database_url("inventory"))
    try:
        status: str | None = await conn.fetchval(
            "SELECT status FROM reservations WHERE order_id = $1", order_id
        )
        return status
    finally:
        await conn.close()


@pytest.mark.parametrize(
    ("token", "status", "reason"),
    [
        pytest.param(None, 401, "missing", id="no-token"),
        pytest.param(
            {"caller": "orders", "audience": "payments"}, 401, "audience", id="for-payments"
        ),
        pytest.param(
            {"caller": "orders", "audience": "inventory", "secret": "x" * 48},
            401,
            "signature",
            id="another-secret",
        ),
        pytest.param(
            {"caller": "orders", "audience": "inventory", "issued_ago": 600},
            401,
            "expired",
            id="expired",
        ),
        pytest.param(
            {"caller": "notifications", "audience": "inventory"}, 403, "caller", id="not-allowed"
        ),
        pytest.param({"caller": "orders", "audience": "inventory"}, 201, None, id="from-orders"),
    ],
)
async def test_inventory_reserves_only_for_a_caller_it_allows(
    shop: Shop, token: dict[str, object] | None, status: int, reason: str | None
) -> None:
    order_id = f"direct-{uuid.uuid4().hex[:12]}"
    headers = {} if token is None else bearer(shop, **token)  # type: ignore[arg-type]

    async with httpx.AsyncClient(base_url=shop.procs["inventory"].url, timeout=10) as client:
        answer = await client.post(
            "/reservations",
            json={"order_id": order_id, "items": [{"product_id": "p1", "quantity": 1}]},
            headers=headers,
        )

    assert answer.status_code == status, answer.text
    if reason is None:
        assert await reservation_status(shop, order_id) == "RESERVED"
        return
    assert answer.headers["content-type"] == PROBLEM_JSON
    assert answer.json()["reason"] == reason
    assert await reservation_status(shop, order_id) is None, "a refused call changed state"


@pytest.mark.parametrize(
    ("service", "caller", "status"),
    [
        pytest.param("payments", "gateway", 403, id="gateway-may-not-charge"),
        pytest.param("orders", "admin", 403, id="only-the-gateway-places-orders"),
        pytest.param("users", "orders", 403, id="orders-may-not-read-users"),
        pytest.param("users", "gateway", 200, id="gateway-reads-the-jwks"),
    ],
)
async def test_each_service_has_its_own_allow_list(
    shop: Shop, service: str, caller: str, status: int
) -> None:
    paths = {"payments": "/charges/nothing", "orders": "/orders/nothing"}
    path = paths.get(service, "/.well-known/jwks.json")

    async with httpx.AsyncClient(base_url=shop.procs[service].url, timeout=10) as client:
        answer = await client.get(path, headers=bearer(shop, caller=caller, audience=service))

    assert answer.status_code == status, answer.text


@pytest.mark.parametrize("path", ["/health/live", "/health/ready", "/metrics"])
async def test_health_and_metrics_stay_open(shop: Shop, path: str) -> None:
    async with httpx.AsyncClient(base_url=shop.procs["inventory"].url, timeout=10) as client:
        answer = await client.get(path)

    assert answer.status_code == 200, answer.text


async def test_the_saga_confirms_an_order_with_tokens_between_services(shop: Shop) -> None:
    async with service_client(shop, "orders", caller="gateway", timeout=30) as client:
        answer = await client.post(
            "/orders",
            json={"items": [{"product_id": "p2", "quantity": 2}]},
            headers={"Idempotency-Key": f"auth-{uuid.uuid4()}", "X-User-Id": "customer-1"},
        )
    assert answer.status_code == 202, answer.text
    order_id = answer.json()["id"]

    statuses = await wait_finished(shop, {order_id}, within=60)

    assert statuses[order_id] == "CONFIRMED"
    assert await reservation_status(shop, order_id) == "COMMITTED"


async def refusals_counted(shop: Shop, service: str, reason: str) -> float:
    async with httpx.AsyncClient(base_url=shop.procs[service].url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "shopmesh_service_auth_rejected_total" and sample.labels == {
                "service": service,
                "reason": reason,
            }:
                return float(sample.value)
    return 0.0


async def test_refusals_are_counted_by_the_refusing_service(shop: Shop) -> None:
    before = await refusals_counted(shop, "payments", "missing")

    async with httpx.AsyncClient(base_url=shop.procs["payments"].url, timeout=10) as client:
        answer = await client.get("/admin/faults")

    assert answer.status_code == 401
    assert await refusals_counted(shop, "payments", "missing") == before + 1
