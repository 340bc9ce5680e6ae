"""The rate-limit script on the stack's real Redis, over both clients (the gateway's
pipelined RESP client and redis-py): a sliding window, so no span of one window ever
admits more than the limit (a fixed window admitted up to twice the limit across its
end); a request one counter refuses costs the others nothing; a refused client is told
when a slot frees. The sleeps are the clients' arrival times across a window, the input
under test; what a test waits for, it polls with a deadline."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from redis.asyncio import Redis
from shop_processes import REDIS_URL

from shopmesh_gateway.adapters.rate_limiter import RedisRateLimiter, RespRateLimiter
from shopmesh_gateway.adapters.resp import Endpoint, RespClient

pytestmark = pytest.mark.integration

LIMIT, WINDOW_MS = 5, 1_000


def resp_limiter(redis: Redis) -> RespRateLimiter:
    endpoint = Endpoint.parse(REDIS_URL)
    assert endpoint is not None
    return RespRateLimiter(RespClient(endpoint, connect_timeout=1.0, reply_timeout=1.0))


def redis_py_limiter(redis: Redis) -> RedisRateLimiter:
    return RedisRateLimiter(redis, timeout_seconds=1.0)


@pytest.fixture(params=[resp_limiter, redis_py_limiter], ids=["resp", "redis-py"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    make: Callable[[Redis], Any] = request.param
    redis = Redis.from_url(REDIS_URL)
    limiter = make(redis)
    yield limiter
    await limiter.close()
    keys = [key async for key in redis.scan_iter(match="shopmesh:gateway:test:window:*")]
    if keys:
        await redis.delete(*keys)
    await redis.aclose()


def key() -> str:
    return f"shopmesh:gateway:test:window:{uuid.uuid4().hex}"


async def burst(limiter: Any, name: str, n: int, admitted: list[float]) -> None:
    for _ in range(n):
        ((count, _),) = await limiter.hit([name], [(LIMIT, WINDOW_MS)])
        if count <= LIMIT:
            admitted.append(time.monotonic())


async def test_no_span_of_one_window_admits_more_than_the_limit(limiter: Any) -> None:
    """The edge: one request, then a burst just before the window ends and another just
    after it. A fixed window admitted 1 + 4, then 5 more at once: 9 within 0.3 s."""
    name, admitted = key(), []
    await burst(limiter, name, 1, admitted)
    await asyncio.sleep(0.8)
    await burst(limiter, name, 10, admitted)  # 4 more fill the window
    assert len(admitted) == LIMIT
    await asyncio.sleep(0.25)  # the first request has left the window; the 4 have not
    await burst(limiter, name, 10, admitted)
    assert len(admitted) == LIMIT + 1, admitted  # exactly one slot freed
    # No span of one window (less this client's timing slack) holds more than LIMIT.
    window = WINDOW_MS / 1000 - 0.05
    for first in admitted:
        inside = [at for at in admitted if first <= at < first + window]
        assert len(inside) <= LIMIT, (first, admitted)


async def test_a_refused_request_costs_the_other_counter_nothing(limiter: Any) -> None:
    user, other_user, ip = key(), key(), key()
    per_user, per_ip = (1, 60_000), (10, 60_000)

    first = await limiter.hit([user, ip], [per_user, per_ip])
    refused = await limiter.hit([user, ip], [per_user, per_ip])
    other = await limiter.hit([other_user, ip], [per_user, per_ip])

    assert [count for count, _ in first] == [1, 1]
    assert [count for count, _ in refused] == [2, 1]  # the user's is full; the IP's untouched
    assert [count for count, _ in other] == [1, 2]


async def test_a_refused_client_is_told_when_a_slot_frees(limiter: Any) -> None:
    name, limits = key(), [(LIMIT, WINDOW_MS)]
    await limiter.hit([name], limits)  # the oldest: leaves the window 1 s from now
    await asyncio.sleep(0.4)
    for _ in range(LIMIT - 1):
        await limiter.hit([name], limits)
    await asyncio.sleep(0.1)
    ((count, reset_ms),) = await limiter.hit([name], limits)
    assert count == LIMIT + 1
    assert 400 <= reset_ms <= 510, reset_ms  # the oldest leaves ~0.5 s from now
    # Asking again until admitted (a refused request is not counted): the slot frees
    # when it was said to, not before and not much later.
    told = time.monotonic()
    while (count := (await limiter.hit([name], limits))[0][0]) > LIMIT:
        assert time.monotonic() - told < reset_ms / 1000 + 0.5, "no slot freed after reset"
        await asyncio.sleep(0.01)
    assert time.monotonic() - told >= reset_ms / 1000 - 0.05
    assert count == LIMIT  # the oldest's slot freed and taken; the other four still count
