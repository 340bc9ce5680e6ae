"""The JWKS cache and the verified-token cache: one throttled refetch on an unknown kid,
key rotation, users down, rotated-out keys, and cache bounds and lifetimes."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from gateway_testkit import KeySet, MakeGateway, hs256, new_key, public_pem

from shopmesh_gateway.adapters.jwks import JwksCache, parse_jwks
from shopmesh_gateway.adapters.token_cache import TokenCache
from shopmesh_gateway.domain.identity import Identity

PATH = "/api/users/user-1/orders"


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_unknown_kids_trigger_exactly_one_refetch(make_gateway: MakeGateway) -> None:
    async with make_gateway(jwks_refetch_interval_seconds=60) as h:
        assert (await h.client.get(PATH, headers=h.auth())).status_code == 200
        assert h.keys.fetches == 1  # the first token loads the JWKS
        forged = [h.keys.token(new_key()) for _ in range(20)]
        answers = await asyncio.gather(*(h.client.get(PATH, headers=h.auth(t)) for t in forged))
        assert {a.status_code for a in answers} == {401}
        assert h.keys.fetches == 2  # twenty unknown kids, one refetch


async def test_a_rotated_in_key_works_after_its_refetch(make_gateway: MakeGateway) -> None:
    async with make_gateway() as h:
        old_token = h.keys.token()
        assert (await h.client.get(PATH, headers=h.auth(old_token))).status_code == 200
        h.keys.keys.append(new_key())  # users rotates: the old key stays published
        new_token = h.keys.token()
        assert (await h.client.get(PATH, headers=h.auth(new_token))).status_code == 200
        assert (await h.client.get(PATH, headers=h.auth(old_token))).status_code == 200
        assert h.keys.fetches == 2


async def test_refetches_are_throttled(make_gateway: MakeGateway) -> None:
    async with make_gateway(jwks_refetch_interval_seconds=60) as h:
        await h.client.get(PATH, headers=h.auth())
        await h.client.get(PATH, headers=h.auth(h.keys.token(new_key())))  # spends the refetch
        h.keys.keys.append(new_key())
        answer = await h.client.get(PATH, headers=h.auth())
        assert answer.status_code == 401  # within the interval: no second refetch
        assert h.keys.fetches == 2


async def test_users_down_before_any_jwks_is_503_not_500(make_gateway: MakeGateway) -> None:
    async with make_gateway() as h:
        h.keys.failing = True
        answer = await h.client.get(PATH, headers=h.auth())
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "1"
        jwks = await h.client.get("/.well-known/jwks.json")
        assert jwks.status_code == 503


async def test_users_down_later_keeps_the_known_keys(make_gateway: MakeGateway) -> None:
    async with make_gateway(token_cache_size=0) as h:
        assert (await h.client.get(PATH, headers=h.auth())).status_code == 200
        h.keys.failing = True
        assert (await h.client.get(PATH, headers=h.auth())).status_code == 200
        unknown = await h.client.get(PATH, headers=h.auth(h.keys.token(new_key())))
        assert unknown.status_code == 401
        assert "unknown key" in unknown.json()["detail"]


async def test_jwks_route_serves_the_cached_document(make_gateway: MakeGateway) -> None:
    async with make_gateway() as h:
        first = await h.client.get("/.well-known/jwks.json")
        second = await h.client.get("/.well-known/jwks.json")
        assert first.status_code == second.status_code == 200
        assert [k["kid"] for k in first.json()["keys"]] == [h.keys.current.kid]
        assert "max-age=60" in first.headers["cache-control"]
        assert h.keys.fetches == 1


@pytest.mark.parametrize(
    ("change", "kept"),
    [
        pytest.param({}, True, id="es256-signing-key"),
        pytest.param({"kty": "oct", "k": "c2VjcmV0"}, False, id="symmetric-key"),
        pytest.param({"alg": "HS256"}, False, id="alg-outside-allow-list"),
        pytest.param({"use": "enc"}, False, id="encryption-key"),
        pytest.param({"kid": "../etc/passwd"}, False, id="kid-not-an-identifier"),
        pytest.param({"crv": "P-999"}, False, id="unusable-key"),
    ],
)
def test_only_usable_signing_keys_are_kept(change: dict[str, Any], kept: bool) -> None:
    jwk = {**new_key("k1").jwk, **change}
    keys = parse_jwks(json.dumps({"keys": [jwk]}).encode(), {"ES256"})
    assert bool(keys) is kept


@pytest.mark.parametrize(
    "document", [b"not json", b"[]", b'{"keys": {}}', b'{"nokeys": []}'], ids=str
)
async def test_a_broken_jwks_keeps_the_old_keys(document: bytes) -> None:
    keys = KeySet()
    answers = [await keys.fetch(), document]
    clock = Clock()

    async def fetch() -> bytes:
        return answers.pop(0)

    cache = JwksCache(fetch, algorithms={"ES256"}, max_age=10, refetch_interval=0, clock=clock)
    assert await cache.key(keys.current.kid) is not None
    assert await cache.key("unknown") is None  # refetches the broken document
    assert await cache.key(keys.current.kid) is not None


async def test_old_keys_are_refreshed_in_the_background() -> None:
    keys = KeySet()
    clock = Clock()
    changes: list[frozenset[str]] = []
    cache = JwksCache(
        keys.fetch,
        algorithms={"ES256"},
        max_age=300,
        refetch_interval=10,
        clock=clock,
        on_change=changes.append,
    )
    old = keys.current.kid
    assert await cache.key(old) is not None
    keys.keys = [new_key()]  # the old key is rotated out at users
    clock.now += 301
    assert await cache.key(old) is not None  # served from memory, refresh started
    await asyncio.sleep(0.01)
    assert await cache.key(old) is None
    assert changes[-1] == frozenset({keys.current.kid})


async def test_a_rotated_out_key_stops_cached_tokens(make_gateway: MakeGateway) -> None:
    async with make_gateway(jwks_cache_seconds=0.01) as h:
        token = h.keys.token()
        assert (await h.client.get(PATH, headers=h.auth(token))).status_code == 200
        h.keys.keys = [new_key()]
        await asyncio.sleep(1.1)  # past max_age and the background-refresh spacing
        await h.client.get(PATH, headers=h.auth(token))  # starts the refresh
        await asyncio.sleep(0.05)
        assert (await h.client.get(PATH, headers=h.auth(token))).status_code == 401


def test_token_cache_entries_expire_at_exp_or_max_seconds() -> None:
    clock = Clock(now=1_000.0)
    cache = TokenCache(max_entries=10, max_seconds=60, clock=clock)
    ada, bob = Identity(subject="ada"), Identity(subject="bob")
    cache.put("short", ada, exp=1_010, kid="k")
    cache.put("long", bob, exp=5_000, kid="k")
    clock.now = 1_009
    assert cache.get("short") == ada
    clock.now = 1_010
    assert cache.get("short") is None  # its exp
    clock.now = 1_059
    assert cache.get("long") == bob
    clock.now = 1_060
    assert cache.get("long") is None  # now + 60 s at the time it was verified


def test_token_cache_is_bounded_and_forgets_dropped_kids() -> None:
    cache = TokenCache(max_entries=3, max_seconds=60, clock=Clock())
    for n in range(5):
        cache.put(f"t{n}", Identity(subject=str(n)), exp=10**10, kid="a" if n % 2 else "b")
    assert len(cache) == 3
    assert cache.get("t0") is None  # the oldest went first
    assert cache.get("t1") is None
    cache.forget_all_but({"a"})
    assert cache.get("t3") is not None
    assert cache.get("t2") is None
    assert cache.get("t4") is None


async def test_a_cached_token_skips_verification(make_gateway: MakeGateway) -> None:
    async with make_gateway() as h:
        token = h.keys.token()
        assert (await h.client.get(PATH, headers=h.auth(token))).status_code == 200
        verify = h.gateway.authenticator.verify

        async def must_not_verify(_token: str) -> Identity:
            raise AssertionError("verified again")

        h.gateway.authenticator.verify = must_not_verify  # type: ignore[method-assign]
        try:
            assert (await h.client.get(PATH, headers=h.auth(token))).status_code == 200
        finally:
            h.gateway.authenticator.verify = verify  # type: ignore[method-assign]


async def test_hs256_stays_refused_even_if_allowed_by_mistake(make_gateway: MakeGateway) -> None:
    # Keys are pinned to their own algorithm: an EC key never verifies an HMAC.
    async with make_gateway(jwt_algorithms=["ES256", "HS256"]) as h:
        for secret in (public_pem(h.keys), json.dumps(h.keys.current.jwk).encode()):
            answer = await h.client.get(PATH, headers=h.auth(hs256(h.keys, secret)))
            assert answer.status_code == 401
            assert isinstance(answer.json()["detail"], str)
