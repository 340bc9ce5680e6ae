"""Helpers of the cross-service tests and benchmarks: call a service with a service token,
seed, sign up, wait, clean up."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from shop_processes import AMQP_URL, REPO, Shop

from shopmesh_common.broker import ConsumerSpec
from shopmesh_common.service_auth import HS256TokenSource, TokenSource

MAILDIR = Path(os.environ.get("SHOPMESH_MAILDIR", REPO / ".shopmesh" / "stack" / "mail"))

TEST_RETRY_DELAYS = (0.5, 1.0, 2.0)  # what the cross-service tests configure
PRODUCTS = {f"p{n}": (f"Product {n}", 100 * n + 99) for n in range(1, 6)}


class ServiceTokenAuth(httpx.Auth):
    """httpx auth: a fresh service token for `audience` on every request."""

    def __init__(self, source: TokenSource, audience: str) -> None:
        self.source = source
        self.audience = audience

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.source.token_for(self.audience)
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        yield request


def service_client(shop: Shop, service: str, *, caller: str, **kwargs: Any) -> httpx.AsyncClient:
    """A client of `service` that presents service tokens minted as `caller`: the tests use
    the caller whose part they play ("gateway" for public routes, "admin" for seeding)."""
    source = HS256TokenSource(shop.service_token_secret.encode(), caller=caller)
    return httpx.AsyncClient(
        base_url=shop.procs[service].url, auth=ServiceTokenAuth(source, service), **kwargs
    )


async def delete_queues(shop: Shop) -> None:
    """Remove the run's consumer queues (retry and dead-letter queues too) and its exchange."""
    connection = await aio_pika.connect(AMQP_URL)
    async with connection:
        channel = await connection.channel()
        for consumer in ("notifications", "order-history"):
            base = shop.queue(consumer)
            names = {
                name
                for delays in (TEST_RETRY_DELAYS, (1.0, 5.0, 30.0))
                for name in ConsumerSpec(
                    queue=base, routing_keys=(), retry_delays=delays
                ).all_queues
            }
            for name in names:
                try:
                    await channel.queue_delete(name)
                except Exception:
                    channel = await connection.channel()
        await channel.exchange_delete(shop.exchange)


async def seed(shop: Shop, stock: int) -> dict[str, int]:
    """Stock every demo product with `stock` units; returns product -> stocked."""
    async with service_client(shop, "inventory", caller="admin") as client:
        for pid, (name, price) in PRODUCTS.items():
            answer = await client.post(
                "/admin/products",
                json={"id": pid, "name": name, "price_cents": price, "stock": stock},
            )
            assert answer.status_code in (200, 201), answer.text
    return dict.fromkeys(PRODUCTS, stock)


async def sign_up(shop: Shop, count: int) -> list[str]:
    """`count` new users; returns their ids."""
    async with service_client(shop, "users", caller="gateway", timeout=30) as client:
        answers = await asyncio.gather(
            *(
                client.post(
                    "/signup",
                    json={
                        "email": f"u{n}-{shop.run_id}@example.com",
                        "password": "correct horse",
                        "name": f"Customer {n}",
                    },
                )
                for n in range(count)
            )
        )
    assert all(a.status_code == 201 for a in answers), [a.text for a in answers][:3]
    return [a.json()["id"] for a in answers]


async def wait_finished(shop: Shop, order_ids: set[str], within: float = 180.0) -> dict[str, str]:
    """Poll orders until every one is CONFIRMED or FAILED; returns id -> status."""
    from invariants import order_statuses

    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    statuses: dict[str, str] = {}
    while loop.time() < deadline:
        statuses = await order_statuses(shop)
        if order_ids <= statuses.keys() and all(
            statuses[o] in ("CONFIRMED", "FAILED") for o in order_ids
        ):
            return statuses
        await asyncio.sleep(0.5)
    pending = {
        o: statuses.get(o) for o in order_ids if statuses.get(o) not in ("CONFIRMED", "FAILED")
    }
    raise AssertionError(
        f"{len(pending)} orders unfinished after {within}s: {list(pending.items())[:5]}"
    )


async def wait_until(predicate: Callable[[], object], within: float = 60.0) -> None:
    """Await `predicate()` (a coroutine function) until it is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while loop.time() < deadline:
        result = predicate()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.5)
    raise AssertionError(f"condition not met after {within}s")
