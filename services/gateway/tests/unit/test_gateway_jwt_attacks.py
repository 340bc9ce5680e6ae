"""The JWT attack table through the real app, keys and JWKS held in memory.

Every attack row must give 401 problem+json with a WWW-Authenticate challenge, never a
500, and must reach no service; the control rows show that the same route accepts good
tokens (also one expired or not yet valid within the leeway), so the 401s are about the
tokens.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from gateway_testkit import (
    Harness,
    KeySet,
    MakeGateway,
    hs256,
    new_key,
    public_pem,
    segment,
    unsigned,
)

LEEWAY = 30
ORDER_ID = str(uuid.uuid4())
ORDER_PATH = f"/api/orders/{ORDER_ID}"


def rsa_public_pem() -> bytes:
    """The classic confusion: an RSA public key (ours are EC; an attacker may try both)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def tampered(keys: KeySet) -> str:
    header, _payload, signature = keys.token().split(".")
    return f"{header}.{segment(keys.claims(sub='someone-else'))}.{signature}"


def stripped(keys: KeySet) -> str:
    header, payload, _signature = keys.token().split(".")
    return f"{header}.{payload}."


def signed_by_attacker(keys: KeySet, *, kid: str, extra: dict[str, Any]) -> str:
    attacker = new_key()
    return keys.token(attacker, headers={**extra, "kid": kid})


def rotated_out(keys: KeySet) -> str:
    old = keys.current
    keys.keys = [new_key()]  # the JWKS the gateway will fetch no longer has `old`
    return keys.token(old)


Build = Callable[[KeySet], str]

ATTACKS: list[Any] = [
    pytest.param(
        lambda k: unsigned({"alg": "none", "kid": k.current.kid}, k.claims()), id="alg-none"
    ),
    pytest.param(
        lambda k: unsigned({"alg": "None", "kid": k.current.kid}, k.claims()), id="alg-None"
    ),
    pytest.param(
        lambda k: unsigned({"alg": "NONE", "kid": k.current.kid}, k.claims()), id="alg-NONE"
    ),
    pytest.param(
        lambda k: unsigned({"alg": "none", "kid": k.current.kid}, k.claims(), b"sig"),
        id="alg-none-with-signature",
    ),
    pytest.param(lambda k: hs256(k, public_pem(k)), id="hs256-with-ec-public-pem"),
    pytest.param(lambda k: hs256(k, rsa_public_pem()), id="hs256-with-an-rsa-public-pem"),
    pytest.param(lambda k: hs256(k, json.dumps(k.current.jwk).encode()), id="hs256-with-jwk-json"),
    pytest.param(
        lambda k: hs256(
            k, json.dumps(k.current.jwk, separators=(",", ":"), sort_keys=True).encode()
        ),
        id="hs256-with-jwk-compact",
    ),
    pytest.param(
        lambda k: unsigned({"alg": "RS256", "kid": k.current.kid}, k.claims(), b"x" * 256),
        id="alg-outside-allow-list",
    ),
    pytest.param(tampered, id="tampered-payload"),
    pytest.param(stripped, id="stripped-signature"),
    pytest.param(lambda k: stripped(k)[:-1], id="two-segments"),
    pytest.param(lambda k: k.token(exp=int(time.time()) - LEEWAY - 10), id="expired-beyond-leeway"),
    pytest.param(lambda k: k.token(nbf=int(time.time()) + LEEWAY + 60), id="nbf-in-the-future"),
    pytest.param(lambda k: k.token(iat=int(time.time()) + LEEWAY + 60), id="iat-in-the-future"),
    pytest.param(lambda k: k.token(exp=None), id="missing-exp"),
    pytest.param(lambda k: k.token(iss=None), id="missing-iss"),
    pytest.param(lambda k: k.token(aud=None), id="missing-aud"),
    pytest.param(lambda k: k.token(sub=None), id="missing-sub"),
    pytest.param(lambda k: k.token(iss="https://evil.example/"), id="wrong-iss"),
    pytest.param(lambda k: k.token(aud="someone-else"), id="wrong-aud"),
    pytest.param(lambda k: k.token(sub=""), id="empty-sub"),
    pytest.param(lambda k: k.token(sub=12345), id="sub-not-a-string"),
    pytest.param(lambda k: k.token(sub="a\nX-Admin: yes"), id="sub-with-newline"),
    pytest.param(lambda k: k.token(new_key()), id="unknown-kid"),
    pytest.param(
        lambda k: k.token(headers={"kid": "../../../../etc/passwd"}), id="kid-path-traversal"
    ),
    pytest.param(lambda k: k.token(headers={"kid": "x' OR '1'='1"}), id="kid-sql"),
    pytest.param(
        lambda k: k.raw_token({"alg": "ES256", "kid": 7}, k.claims()), id="kid-not-a-string"
    ),
    pytest.param(lambda k: unsigned({"alg": "ES256"}, k.claims(), b"s" * 64), id="kid-missing"),
    pytest.param(
        lambda k: signed_by_attacker(k, kid=k.current.kid, extra={"jwk": new_key().jwk}),
        id="embedded-jwk-with-our-kid",
    ),
    pytest.param(
        lambda k: (lambda attacker: k.token(attacker, headers={"jwk": attacker.jwk}))(new_key()),
        id="embedded-jwk-own-kid",
    ),
    pytest.param(
        lambda k: signed_by_attacker(
            k, kid=k.current.kid, extra={"jku": "https://evil.example/jwks.json"}
        ),
        id="jku-ignored",
    ),
    pytest.param(
        lambda k: signed_by_attacker(k, kid=k.current.kid, extra={"x5u": "https://evil.example/c"}),
        id="x5u-ignored",
    ),
    pytest.param(lambda k: k.token(headers={"pad": "x" * 2000}), id="oversized-header"),
    pytest.param(lambda k: k.token(blob="y" * 5000), id="oversized-token"),
    pytest.param(lambda k: k.token(headers={"crit": ["exp"]}), id="crit-header"),
    pytest.param(rotated_out, id="rotated-out-key"),
    pytest.param(lambda _k: "not-a-jwt", id="garbage"),
    pytest.param(lambda _k: "a.b.c", id="garbage-three-segments"),
    pytest.param(lambda _k: "ü.ü.ü", id="non-ascii"),
    pytest.param(lambda _k: "eyJhbGciOiJFUzI1NiJ9.e30.", id="header-without-kid"),
]


async def assert_refused(harness: Harness, headers: dict[str, str]) -> None:
    raw = {name: value.encode() for name, value in headers.items()}  # UTF-8 tokens too
    answer = await harness.client.get(ORDER_PATH, headers=raw)
    assert answer.status_code == 401, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.headers["www-authenticate"].startswith('Bearer realm="shopmesh"')
    assert answer.json()["status"] == 401
    assert harness.upstream.requests == [], "a refused request reached a service"


@pytest.mark.parametrize("build", ATTACKS)
async def test_attack_is_refused_with_401(make_gateway: MakeGateway, build: Build) -> None:
    async with make_gateway(jwt_leeway_seconds=LEEWAY) as harness:
        token = build(harness.keys)
        await assert_refused(harness, {"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-credentials"),
        pytest.param({"Authorization": "Bearer"}, id="empty-bearer"),
        pytest.param({"Authorization": "Bearer    "}, id="blank-bearer"),
        pytest.param({"Authorization": "Basic dXNlcjpwYXNz"}, id="basic-scheme"),
        pytest.param({"Authorization": "Bearer x", "X-API-Key": "y"}, id="token-and-api-key"),
        pytest.param({"X-API-Key": "smk_not-a-key"}, id="unknown-api-key"),
    ],
)
async def test_missing_or_odd_credentials_are_401(
    make_gateway: MakeGateway, headers: dict[str, str]
) -> None:
    async with make_gateway() as harness:
        await assert_refused(harness, headers)


@pytest.mark.parametrize(
    "build",
    [
        pytest.param(lambda k: k.token(), id="valid"),
        pytest.param(
            lambda k: k.token(exp=int(time.time()) - LEEWAY // 2), id="expired-within-leeway"
        ),
        pytest.param(lambda k: k.token(nbf=int(time.time()) + LEEWAY // 2), id="nbf-within-leeway"),
        pytest.param(lambda k: k.token(nbf=None, iat=None, email=None), id="only-required-claims"),
        pytest.param(
            lambda k: k.token(headers={"jku": "https://evil.example/jwks.json"}),
            id="our-signature-with-jku-ignored",
        ),
    ],
)
async def test_good_tokens_pass(make_gateway: MakeGateway, build: Build) -> None:
    async with make_gateway(jwt_leeway_seconds=LEEWAY) as harness:
        harness.upstream.answers[("GET", f"/orders/{ORDER_ID}")] = (
            200,
            {"id": ORDER_ID, "customer_id": "user-1", "status": "CONFIRMED", "items": []},
        )
        answer = await harness.client.get(ORDER_PATH, headers=harness.auth(build(harness.keys)))
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "CONFIRMED"
        assert "customer_id" not in answer.json()
        assert harness.upstream.requests[0].headers["x-user-id"] == "user-1"
