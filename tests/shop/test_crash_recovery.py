"""kill -9 orders mid-saga and the outbox relay mid-publish; restart; nothing is lost.

orders runs with its relay disabled and two stand-alone relays beside it (one publishes,
one stands by). Payments answers slowly so that sagas are mid-way when orders dies.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import httpx
import invariants
import pytest
from shop_helpers import MAILDIR, seed, sign_up, wait_finished, wait_until

pytestmark = pytest.mark.integration

ORDERS = 80


async def test_kill_orders_and_relays_mid_flight(make_shop) -> None:  # type: ignore[no-untyped-def]
    shop = await make_shop(
        {
            "orders": {
                "SHOPMESH_RELAY_ENABLED": "false",
                "SHOPMESH_LEASE_SECONDS": "3",
                "SHOPMESH_RECOVERY_INTERVAL_SECONDS": "0.5",
            },
            "payments": {
                "SHOPMESH_PAYMENTS_LATENCY_MS": "300",
                "SHOPMESH_PAYMENTS_DECLINE_RATE": "0.3",
            },
            "notifications": {"SHOPMESH_RETRY_DELAYS": "0.5,1,2"},
            "order-history": {"SHOPMESH_RETRY_DELAYS": "0.5,1,2"},
        }
    )
    shop.start()
    relays = [shop.relay("orders", 0), shop.relay("orders", 1)]
    for relay in relays:
        relay.start()
    stocked = await seed(shop, stock=60)
    users = await sign_up(shop, 8)

    async with httpx.AsyncClient(base_url=shop.procs["orders"].url, timeout=30) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/orders",
                    json={"items": [{"product_id": f"p{1 + n % 5}", "quantity": 1 + n % 2}]},
                    headers={"Idempotency-Key": f"crash-{uuid.uuid4()}", "X-User-Id": users[n % 8]},
                )
                for n in range(ORDERS)
            )
        )
    assert all(a.status_code == 202 for a in answers), [a.text for a in answers][:3]
    order_ids = {a.json()["id"] for a in answers}

    await asyncio.sleep(0.3)
    for relay in relays:  # mid-publish: sagas are producing events right now
        relay.kill()
    await asyncio.sleep(0.5)
    shop.procs["orders"].kill()  # mid-saga
    statuses = await invariants.order_statuses(shop)
    in_flight = [o for o, s in statuses.items() if s not in ("CONFIRMED", "FAILED")]
    assert in_flight, "every saga had finished before the kill: the test proves nothing"
    unsent = await _unsent(shop)
    assert unsent > 0, "the relays had published everything before the kill"

    shop.procs["orders"].start()
    shop.procs["orders"].wait_ready()
    relays[0].start()
    await wait_finished(shop, order_ids)
    await wait_until(lambda: _all_sent(shop), within=60)

    last: AssertionError | None = None
    for _ in range(120):
        try:
            found = await invariants.check(shop, stocked=stocked, maildir=MAILDIR)
            break
        except AssertionError as error:
            last = error
            await asyncio.sleep(1)
    else:
        raise AssertionError(f"invariants broken after the crash: {last}")
    assert found["orders"] == ORDERS


async def _unsent(shop) -> int:  # type: ignore[no-untyped-def]
    conn = await asyncpg.connect(shop.database_url("orders"))
    try:
        return int(await conn.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
    finally:
        await conn.close()


async def _all_sent(shop) -> bool:  # type: ignore[no-untyped-def]
    return await _unsent(shop) == 0
