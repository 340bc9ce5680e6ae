"""Access tokens: issue and verify round trip, and what verification rejects."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest

from shopmesh_users.domain.keys import generate_signing_key
from shopmesh_users.domain.tokens import (
    TokenPolicy,
    UnknownKeyError,
    issue_access_token,
    verify_access_token,
)
from shopmesh_users.domain.users import User

POLICY = TokenPolicy(issuer="https://shopmesh.local/users", audience="shopmesh", ttl_seconds=900)
USER = User(id=uuid.uuid4(), email="ann@example.com", name="Ann")
KEY = generate_signing_key(datetime.now(UTC))
OTHER_KEY = generate_signing_key(datetime.now(UTC))


def test_round_trip_carries_every_claim_and_the_kid() -> None:
    now = datetime.now(UTC)
    token = issue_access_token(POLICY, key=KEY, user=USER, now=now)

    header = jwt.get_unverified_header(token)
    claims = verify_access_token(token, POLICY, jwks=[KEY.public_jwk])

    assert header == {"alg": "ES256", "kid": KEY.kid, "typ": "JWT"}
    assert claims["iss"] == POLICY.issuer
    assert claims["aud"] == POLICY.audience
    assert claims["sub"] == str(USER.id)
    assert (claims["name"], claims["email"]) == (USER.name, USER.email)
    assert claims["iat"] == claims["nbf"] == int(now.timestamp())
    assert claims["exp"] - claims["iat"] == POLICY.ttl_seconds
    assert len(claims["jti"]) == 32


def test_every_token_gets_its_own_jti() -> None:
    first = verify_access_token(
        issue_access_token(POLICY, key=KEY, user=USER), POLICY, jwks=[KEY.public_jwk]
    )
    second = verify_access_token(
        issue_access_token(POLICY, key=KEY, user=USER), POLICY, jwks=[KEY.public_jwk]
    )
    assert first["jti"] != second["jti"]


def _forged_with_other_key() -> str:
    claims: dict[str, Any] = {"iss": POLICY.issuer, "aud": POLICY.audience, "sub": str(USER.id)}
    now = int(datetime.now(UTC).timestamp())
    claims |= {"iat": now, "nbf": now, "exp": now + 60, "jti": "x"}
    assert OTHER_KEY.private_key is not None
    return jwt.encode(claims, OTHER_KEY.private_key, algorithm="ES256", headers={"kid": KEY.kid})


def _hs256_with_public_x() -> str:
    # The classic algorithm-confusion attack: HMAC keyed with public key material.
    now = int(datetime.now(UTC).timestamp())
    claims = {"iss": POLICY.issuer, "aud": POLICY.audience, "sub": "x", "iat": now}
    claims |= {"nbf": now, "exp": now + 60, "jti": "x"}
    return jwt.encode(claims, KEY.public_jwk["x"] * 2, algorithm="HS256", headers={"kid": KEY.kid})


@pytest.mark.parametrize(
    ("make_token", "verify_policy", "jwks", "error"),
    [
        pytest.param(
            lambda: issue_access_token(
                POLICY, key=KEY, user=USER, now=datetime.now(UTC) - timedelta(seconds=901)
            ),
            POLICY,
            [KEY.public_jwk],
            jwt.ExpiredSignatureError,
            id="expired",
        ),
        pytest.param(
            lambda: issue_access_token(POLICY, key=KEY, user=USER),
            TokenPolicy(issuer=POLICY.issuer, audience="someone-else", ttl_seconds=900),
            [KEY.public_jwk],
            jwt.InvalidAudienceError,
            id="wrong-audience",
        ),
        pytest.param(
            lambda: issue_access_token(POLICY, key=KEY, user=USER),
            TokenPolicy(issuer="https://evil.example", audience="shopmesh", ttl_seconds=900),
            [KEY.public_jwk],
            jwt.InvalidIssuerError,
            id="wrong-issuer",
        ),
        pytest.param(
            lambda: issue_access_token(POLICY, key=KEY, user=USER),
            POLICY,
            [OTHER_KEY.public_jwk],
            UnknownKeyError,
            id="kid-not-in-jwks",
        ),
        pytest.param(
            _forged_with_other_key,
            POLICY,
            [KEY.public_jwk],
            jwt.InvalidSignatureError,
            id="signed-by-another-key",
        ),
        pytest.param(
            _hs256_with_public_x,
            POLICY,
            [KEY.public_jwk],
            jwt.InvalidTokenError,
            id="hs256-algorithm-confusion",
        ),
    ],
)
def test_verification_rejects(
    make_token: object, verify_policy: TokenPolicy, jwks: list[dict[str, str]], error: type
) -> None:
    assert callable(make_token)
    with pytest.raises(error):
        verify_access_token(make_token(), verify_policy, jwks=jwks)


def test_a_retired_key_cannot_sign() -> None:
    retired = replace(generate_signing_key(datetime.now(UTC)), private_key=None, retired=True)
    with pytest.raises(ValueError, match="retired"):
        issue_access_token(POLICY, key=retired, user=USER)
