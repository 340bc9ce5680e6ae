"""kill -9 orders mid-saga and the outbox relay mid-publish; restart; nothing is lost.

orders runs with its relay disabled and stand-alone relays beside it (one publishes, one
stands by). orders dies mid-saga with both relays; it restarts and finishes every saga while
the outcome events wait in the outbox; a relay starts on that backlog and is killed while
publishing (after its first confirmed batch); another relay finishes it. Payments answers
slowly (1.5 s a charge) so that sagas are mid-way when orders dies.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import invariants
import pytest
from shop_helpers import MAILDIR, seed, service_client, sign_up, wait_finished, wait_until

pytestmark = pytest.mark.integration

ORDERS = 80


async def test_kill_orders_and_relays_mid_flight(make_shop) -> None:  # type: ignore[no-untyped-def]
    shop = await make_shop(
        {
            "orders": {
                "SHOPMESH_RELAY_ENABLED": "false",
                "SHOPMESH_LEASE_SECONDS": "3",
                "SHOPMESH_RECOVERY_INTERVAL_SECONDS": "0.5",
                "SHOPMESH_CALL_TIMEOUT_SECONDS": "4",
            },
            "payments": {
                "SHOPMESH_PAYMENTS_LATENCY_MS": "1500",
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

    async with service_client(shop, "orders", caller="gateway", timeout=30) as client:
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

    await asyncio.sleep(0.5)
    shop.procs["orders"].kill()  # mid-saga: charges take 1.5 s
    for relay in relays:
        relay.kill()
    statuses = await invariants.order_statuses(shop)
    in_flight = [o for o, s in statuses.items() if s not in ("CONFIRMED", "FAILED")]
    assert in_flight, "every saga had finished before the kill: the test proves nothing"

    shop.procs["orders"].start()  # resumes the unfinished sagas once their leases run out
    shop.procs["orders"].wait_ready()
    await wait_finished(shop, order_ids)
    unsent = await _unsent(shop)
    assert unsent >= len(in_flight), "outcome events of resumed sagas are waiting in the outbox"

    relays[0].start()  # and is killed while it publishes the backlog
    await wait_until(lambda: _fewer_unsent(shop, unsent), within=30)
    relays[0].kill()
    relays[1].start()
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


async def _fewer_unsent(shop, than: int) -> bool:  # type: ignore[no-untyped-def]
    return await _unsent(shop) < than


async def _all_sent(shop) -> bool:  # type: ignore[no-untyped-def]
    return await _unsent(shop) == 0
