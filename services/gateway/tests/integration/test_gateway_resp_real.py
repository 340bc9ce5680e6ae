"""The pipelined RESP client on the stack's real Redis: the rate-limit script counts
exactly under concurrency, SELECT from the URL is honoured, a killed connection is
replaced, and a Redis that is not there fails fast."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis
from shop_processes import REDIS_URL, free_port

from shopmesh_gateway.adapters.rate_limiter import RespRateLimiter
from shopmesh_gateway.adapters.resp import Endpoint, RespClient

pytestmark = pytest.mark.integration


def client_for(url: str) -> RespClient:
    endpoint = Endpoint.parse(url)
    assert endpoint is not None
    return RespClient(endpoint, connect_timeout=1.0, reply_timeout=1.0)


@pytest.fixture
async def key() -> AsyncIterator[str]:
    name = f"shopmesh:gateway:test:{uuid.uuid4().hex}"
    yield name
    redis = Redis.from_url(REDIS_URL)
    await redis.delete(name)
    await redis.aclose()


async def test_concurrent_hits_count_exactly(key: str) -> None:
    limiter = RespRateLimiter(client_for(REDIS_URL))
    try:
        results = await asyncio.gather(*(limiter.hit([key], [(1_000, 60_000)]) for _ in range(500)))
    finally:
        await limiter.close()
    counts = sorted(result[0][0] for result in results)
    assert counts == list(range(1, 501))
    assert all(0 < result[0][1] <= 60_000 for result in results)


async def test_the_database_in_the_url_is_used(key: str) -> None:
    url = REDIS_URL.rsplit("/", 1)[0] + "/3"
    client = client_for(url)
    try:
        assert await client.call("SET", key, "in-db-3") == "OK"
    finally:
        await client.close()
    redis = Redis.from_url(url)
    other = Redis.from_url(REDIS_URL.rsplit("/", 1)[0] + "/0")
    try:
        assert await redis.get(key) == b"in-db-3"
        assert await other.get(key) is None
        await redis.delete(key)
    finally:
        await redis.aclose()
        await other.aclose()


async def test_a_killed_connection_is_replaced(key: str) -> None:
    client = client_for(REDIS_URL)
    admin = Redis.from_url(REDIS_URL)
    try:
        first = await client.call("CLIENT", "ID")
        await admin.execute_command("CLIENT", "KILL", "ID", first)
        await asyncio.sleep(0.1)  # the close reaches us; nothing was waiting on it
        assert await client.call("INCR", key) == 1  # on a new connection, transparently
        assert await client.call("CLIENT", "ID") != first
    finally:
        await client.close()
        await admin.aclose()


async def test_a_connection_lost_mid_command_fails_that_command(key: str) -> None:
    client = client_for(REDIS_URL)
    admin = Redis.from_url(REDIS_URL)
    try:
        connection_id = await client.call("CLIENT", "ID")
        blocked = asyncio.ensure_future(client.call("BLPOP", key + ":never", 0))
        await asyncio.sleep(0.05)
        await admin.execute_command("CLIENT", "KILL", "ID", connection_id)
        with pytest.raises(ConnectionError):
            await blocked
        assert await client.call("PING") == "PONG"
    finally:
        await client.close()
        await admin.aclose()


async def test_no_redis_fails_fast() -> None:
    client = client_for(f"redis://127.0.0.1:{free_port()}/0")
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(ConnectionRefusedError):
        await client.call("PING")
    assert loop.time() - started < 1.0
