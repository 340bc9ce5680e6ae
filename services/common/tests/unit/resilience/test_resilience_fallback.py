"""The stale fallback: the last good GET answer from Redis (a fake here) when the
downstream is down or its breaker open, and never a broken call because of Redis."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import Callable

import pytest
from prometheus_client import REGISTRY

from shopmesh_common.resilience import (
    STALE_HEADER,
    BreakerSettings,
    BreakerState,
    DownstreamResponse,
    DownstreamUnavailable,
    ResilientClient,
    fallback_key,
)
from shopmesh_common.resilience.fallback import Fallback, is_storable

MakeClient = Callable[..., ResilientClient]


class FakeRedis:
    """The two commands the fallback uses, in a dict."""

    def __init__(self) -> None:
        self.values: dict[str, bytes] = {}
        self.expiries: dict[str, int] = {}

    async def get(self, name: str) -> bytes | None:
        return self.values.get(name)

    async def set(self, name: str, value: bytes, *, ex: int) -> bool:
        self.values[name] = value
        self.expiries[name] = ex
        return True


class BrokenRedis(FakeRedis):
    async def get(self, name: str) -> bytes | None:
        raise ConnectionError("redis is down")

    async def set(self, name: str, value: bytes, *, ex: int) -> bool:
        raise ConnectionError("redis is down")


class HangingRedis(FakeRedis):
    async def get(self, name: str) -> bytes | None:
        await asyncio.sleep(60)
        return None

    async def set(self, name: str, value: bytes, *, ex: int) -> bool:
        await asyncio.sleep(60)
        return True


@pytest.fixture
def redis() -> FakeRedis:
    return FakeRedis()


def fallbacks(client: ResilientClient) -> float:
    labels = {"service": client.service, "downstream": client.settings.name, "outcome": "fallback"}
    return REGISTRY.get_sample_value("shopmesh_downstream_requests_total", labels) or 0.0


@pytest.mark.parametrize(
    ("path", "params", "key"),
    [
        pytest.param("/items", None, "shopmesh:fallback:orders:inventory:GET:/items?", id="bare"),
        pytest.param(
            "/items", {"b": "2", "a": 1}, "shopmesh:fallback:orders:inventory:GET:/items?a=1&b=2",
            id="params sorted",
        ),
        pytest.param(
            "/items?b=2", {"a": "1"}, "shopmesh:fallback:orders:inventory:GET:/items?a=1&b=2",
            id="query in the path merged and sorted",
        ),
    ],
)  # fmt: skip
def test_fallback_key(path: str, params: dict[str, str | int] | None, key: str) -> None:
    assert fallback_key("orders", "inventory", method="GET", path=path, params=params) == key


@pytest.mark.parametrize(
    ("status", "headers", "storable"),
    [
        pytest.param(200, {}, True, id="200"),
        pytest.param(204, {"cache-control": "max-age=60"}, True, id="204 with max-age"),
        pytest.param(404, {}, False, id="404"),
        pytest.param(500, {}, False, id="500"),
        pytest.param(200, {"cache-control": "no-store"}, False, id="no-store"),
        pytest.param(200, {"cache-control": "Private, max-age=5"}, False, id="private"),
    ],
)
def test_only_good_shareable_answers_are_stored(
    status: int, headers: dict[str, str], storable: bool
) -> None:
    assert is_storable(DownstreamResponse(status=status, headers=headers)) is storable


async def test_a_stored_answer_comes_back_stale_with_its_age(redis: FakeRedis) -> None:
    now = [1000.0]
    fallback = Fallback(redis, ttl_seconds=300, wall_clock=lambda: now[0])
    answer = DownstreamResponse(status=200, headers={"etag": '"v1"'}, body=b'{"stock": 3}')

    await fallback.store("k", answer)
    now[0] += 42.5
    stale = await fallback.load("k")

    assert redis.expiries == {"k": 300}
    assert stale == DownstreamResponse(
        status=200,
        headers={"etag": '"v1"', STALE_HEADER: "1", "age": "42"},
        body=b'{"stock": 3}',
        stale=True,
    )


class CountingRedis(FakeRedis):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    async def set(self, name: str, value: bytes, *, ex: int) -> bool:
        self.writes += 1
        return await super().set(name, value, ex=ex)


ANSWER = DownstreamResponse(
    status=200, headers={"etag": '"v1"', "date": "Wed, 25 Nov 2026 10:00:00 GMT"}, body=b"[1]"
)


@pytest.mark.parametrize(
    ("second", "after_seconds", "writes"),
    [
        pytest.param(ANSWER, 1, 1, id="the same answer soon after: not written again"),
        pytest.param(
            DownstreamResponse(
                status=200, headers={**ANSWER.headers, "date": "Wed, 25 Nov 2026 10:00:01 GMT"},
                body=b"[1]",
            ),
            1, 1, id="only its Date differs: the same answer",
        ),
        pytest.param(
            DownstreamResponse(status=200, headers=ANSWER.headers, body=b"[1, 2]"), 1, 2,
            id="another body: written",
        ),
        pytest.param(
            DownstreamResponse(status=200, headers={"etag": '"v2"'}, body=b"[1]"), 1, 2,
            id="another header: written",
        ),
        pytest.param(ANSWER, 30, 2, id="a tenth of the TTL later: written again"),
    ],
)  # fmt: skip
async def test_an_unchanged_answer_is_not_written_again_for_a_while(
    second: DownstreamResponse, after_seconds: float, writes: int
) -> None:
    redis = CountingRedis()
    now = [1000.0]
    fallback = Fallback(redis, ttl_seconds=300, wall_clock=lambda: now[0])

    await fallback.store("k", ANSWER)
    now[0] += after_seconds
    await fallback.store("k", second)

    assert redis.writes == writes
    assert (await fallback.load("k")) is not None


async def test_the_last_good_answer_stands_in_when_the_downstream_fails(
    make_client: MakeClient, redis: FakeRedis, script: dict[str, list[int]], hits: Counter[str]
) -> None:
    client = make_client(redis=redis, cache_fallback=True, cache_ttl_seconds=60)
    script["/script/items"] = [200, 503]
    fresh = await client.request("GET", "/script/items", params={"page": "1"})

    stale = await client.request("GET", "/script/items", params={"page": "1"})

    assert hits["/script/items"] == 4  # one good answer, then three attempts
    assert (stale.status, stale.stale, stale.body) == (200, True, fresh.body)
    assert stale.headers[STALE_HEADER] == "1"
    assert int(stale.headers["age"]) >= 0
    assert fallbacks(client) == 1
    assert list(redis.expiries.values()) == [60]


async def test_the_last_good_answer_stands_in_while_the_breaker_is_open(
    make_client: MakeClient, redis: FakeRedis, script: dict[str, list[int]], hits: Counter[str]
) -> None:
    breaker = BreakerSettings(sliding_window_size=2, minimum_number_of_calls=2)
    client = make_client(redis=redis, cache_fallback=True, retry_attempts=1, breaker=breaker)
    script["/script/items"] = [200, 503]
    await client.request("GET", "/script/items")
    for _ in range(2):
        await client.request("GET", "/script/items")
    assert client.breaker.state is BreakerState.OPEN
    sent = hits["/script/items"]

    stale = await client.request("GET", "/script/items")

    assert stale.stale
    assert hits["/script/items"] == sent


@pytest.mark.parametrize(
    ("method", "cache_fallback", "statuses"),
    [
        pytest.param("POST", True, [200, 503], id="POST: never stored nor served"),
        pytest.param("GET", False, [200, 503], id="cache_fallback off"),
        pytest.param("GET", True, [404, 503], id="a 404 is not a good answer"),
    ],
)
async def test_no_stale_answer(
    make_client: MakeClient,
    redis: FakeRedis,
    script: dict[str, list[int]],
    method: str,
    cache_fallback: bool,
    statuses: list[int],
) -> None:
    client = make_client(redis=redis, cache_fallback=cache_fallback)
    script["/script/items"] = statuses
    await client.request(method, "/script/items")

    with pytest.raises(DownstreamUnavailable, match="HTTP 503"):
        await client.request(method, "/script/items")
    assert redis.values == {}
    assert fallbacks(client) == 0


@pytest.mark.parametrize(
    "broken",
    [pytest.param(BrokenRedis(), id="raising"), pytest.param(HangingRedis(), id="hanging")],
)
async def test_redis_trouble_never_breaks_a_call(
    make_client: MakeClient, script: dict[str, list[int]], broken: FakeRedis
) -> None:
    client = make_client(redis=broken, cache_fallback=True)
    script["/script/items"] = [200, 503]
    started = time.monotonic()

    assert (await client.request("GET", "/script/items")).json()["hit"] == 1
    with pytest.raises(DownstreamUnavailable, match="HTTP 503"):
        await client.request("GET", "/script/items")
    assert time.monotonic() - started < 2


async def test_a_corrupt_entry_is_treated_as_none(redis: FakeRedis) -> None:
    redis.values["k"] = json.dumps({"status": 200}).encode()  # no body, no headers

    assert await Fallback(redis, ttl_seconds=60).load("k") is None
