"""The JWT attack table through the real gateway, with the real users service issuing the
tokens and publishing the JWKS.

Tokens come from users' login, or are forged with users' real signing key (read from its
database) when a row needs one claim changed: so every row differs from a good token in
exactly what it tests. Each attack is a 401 problem+json with WWW-Authenticate, never a
500, and reaches no service (users' and order-history's request counters stand still).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from gateway_testkit import KeySet, hs256, new_key, public_pem, segment, unsigned

pytestmark = pytest.mark.integration

LEEWAY = 30  # the gateway's default


def tampered(keys: KeySet, token: str) -> str:
    header, _payload, signature = token.split(".")
    return (
        f"{header}.{segment(keys.claims(sub='00000000-0000-0000-0000-000000000000'))}.{signature}"
    )


Attack = Callable[[KeySet, str], str]
ATTACKS: list[Any] = [
    pytest.param(
        lambda k, _t: unsigned({"alg": "none", "kid": k.current.kid}, k.claims()), id="alg-none"
    ),
    pytest.param(
        lambda k, _t: unsigned({"alg": "None", "kid": k.current.kid}, k.claims()), id="alg-None"
    ),
    pytest.param(
        lambda k, _t: unsigned({"alg": "NONE", "kid": k.current.kid}, k.claims()), id="alg-NONE"
    ),
    pytest.param(lambda k, _t: hs256(k, public_pem(k)), id="hs256-with-the-public-key-pem"),
    pytest.param(
        lambda k, _t: hs256(k, json.dumps(k.current.jwk).encode()), id="hs256-with-the-jwk"
    ),
    pytest.param(tampered, id="tampered-payload"),
    pytest.param(lambda _k, t: t.rsplit(".", 1)[0] + ".", id="stripped-signature"),
    pytest.param(
        lambda k, _t: k.token(exp=int(time.time()) - LEEWAY - 30), id="expired-beyond-leeway"
    ),
    pytest.param(lambda k, _t: k.token(nbf=int(time.time()) + LEEWAY + 60), id="nbf-in-the-future"),
    pytest.param(lambda k, _t: k.token(exp=None), id="missing-exp"),
    pytest.param(lambda k, _t: k.token(iss=None), id="missing-iss"),
    pytest.param(lambda k, _t: k.token(aud=None), id="missing-aud"),
    pytest.param(lambda k, _t: k.token(sub=None), id="missing-sub"),
    pytest.param(lambda k, _t: k.token(iss="https://evil.example/users"), id="wrong-iss"),
    pytest.param(lambda k, _t: k.token(aud="another-shop"), id="wrong-aud"),
    pytest.param(lambda k, _t: k.token(new_key()), id="unknown-kid"),
    pytest.param(lambda k, _t: k.token(headers={"kid": "../../../../etc/passwd"}), id="kid-path"),
    pytest.param(lambda k, _t: k.token(headers={"kid": "1' OR '1'='1"}), id="kid-sql"),
    pytest.param(
        lambda k, _t: k.token(new_key(), headers={"kid": k.current.kid, "jwk": new_key().jwk}),
        id="embedded-jwk",
    ),
    pytest.param(
        lambda k, _t: k.token(
            new_key(), headers={"kid": k.current.kid, "jku": "http://127.0.0.1:9/jwks.json"}
        ),
        id="jku",
    ),
    pytest.param(
        lambda k, _t: k.token(
            new_key(), headers={"kid": k.current.kid, "x5u": "http://127.0.0.1:9/c"}
        ),
        id="x5u",
    ),
    pytest.param(lambda k, _t: k.token(headers={"pad": "x" * 4000}), id="oversized-header"),
    pytest.param(lambda _k, _t: "a.b.c", id="garbage"),
]


async def counters(client: httpx.AsyncClient) -> dict[str, float]:
    """users' and order-history's served business requests, from their /metrics (a JWKS
    refetch for an unknown kid is the gateway doing its job, not the request getting in)."""
    text = (await client.get("/metrics")).text
    pattern = re.compile(r"^shopmesh_http_requests_total\{(.*)\} (\S+)$", re.M)
    return {
        labels: float(value)
        for labels, value in pattern.findall(text)
        if not any(route in labels for route in ("/health", "/metrics", "jwks"))
    }


@dataclass
class RealUser:
    user_id: str
    token: str
    keys: KeySet


@pytest.fixture(scope="module")
def real_user(gateway_shop: Any) -> RealUser:
    """A user signed up and logged in through the gateway, and users' real signing key."""

    async def make() -> RealUser:
        async with gateway_shop.client() as gw:
            user_id, token = await gateway_shop.sign_up(gw)
        return RealUser(user_id, token, KeySet(keys=[await gateway_shop.signing_key()]))

    return asyncio.run(make())


async def test_real_and_forged_good_tokens_pass(gateway_shop: Any, real_user: RealUser) -> None:
    # Forging with the real key must work, or the attack table below proves nothing.
    path = f"/api/users/{real_user.user_id}/orders"
    async with gateway_shop.client() as gw:
        for token in (real_user.token, real_user.keys.token(sub=real_user.user_id)):
            answer = await gw.get(path, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
            assert answer.json()["user"]["id"] == real_user.user_id


@pytest.mark.parametrize("attack", ATTACKS)
async def test_attack_is_401_through_the_real_gateway(
    gateway_shop: Any, real_user: RealUser, attack: Attack
) -> None:
    path = f"/api/users/{real_user.user_id}/orders"
    bad = attack(real_user.keys, real_user.token)
    async with (
        gateway_shop.client() as gw,
        gateway_shop.client("users") as users,
        gateway_shop.client("order-history") as history,
    ):
        before = (await counters(users), await counters(history))
        answer = await gw.get(path, headers={"Authorization": f"Bearer {bad}"})
        assert answer.status_code == 401, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["www-authenticate"].startswith('Bearer realm="shopmesh"')
        assert answer.json()["status"] == 401
        after = (await counters(users), await counters(history))
        assert after == before, "a refused request reached a service"


async def test_expiry_within_and_beyond_the_leeway(gateway_shop: Any, real_user: RealUser) -> None:
    # One token that expired 3 s ago: this gateway forgives 30 s of clock skew, a second
    # gateway started with a 1 s leeway does not.
    strict = gateway_shop.start_gateway("gateway-strict", SHOPMESH_JWT_LEEWAY_SECONDS="1")
    now = int(time.time())
    token = real_user.keys.token(sub=real_user.user_id, iat=now - 10, nbf=now - 10, exp=now - 3)
    headers = {"Authorization": f"Bearer {token}"}
    path = f"/api/users/{real_user.user_id}/orders"
    try:
        async with gateway_shop.client() as gw, gateway_shop.client("gateway-strict") as tight:
            within = await gw.get(path, headers=headers)
            beyond = await tight.get(path, headers=headers)
    finally:
        strict.stop()
    assert within.status_code == 200, within.text
    assert beyond.status_code == 401
    assert "expired" in beyond.json()["detail"]
