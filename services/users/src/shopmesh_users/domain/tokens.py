"""Access tokens: short-lived ES256 JWTs, issued by login and verified against a JWKS.

`issue_access_token` is what the login use case calls; `verify_access_token` is how any
verifier (the tests, a gateway, another service) checks one against the published JWKS:
it picks the key by the token's `kid`, pins the algorithm to ES256 and requires every
claim the issuer sets.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from .keys import ALGORITHM, SigningKey
from .users import User

REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "nbf", "exp", "jti")


class UnknownKeyError(jwt.InvalidTokenError):
    """The token's kid is not in the JWKS (a verifier should refetch the JWKS once)."""


@dataclass(frozen=True)
class TokenPolicy:
    """Who issues tokens, for whom, and for how long."""

    issuer: str
    audience: str
    ttl_seconds: int


def build_claims(policy: TokenPolicy, *, user: User, now: datetime, jti: str) -> dict[str, Any]:
    """The claims of an access token for `user` issued at `now`."""
    issued = int(now.timestamp())
    return {
        "iss": policy.issuer,
        "aud": policy.audience,
        "sub": str(user.id),
        "iat": issued,
        "nbf": issued,
        "exp": issued + policy.ttl_seconds,
        "jti": jti,
        "name": user.name,
        "email": user.email,
    }


def issue_access_token(
    policy: TokenPolicy, *, key: SigningKey, user: User, now: datetime | None = None
) -> str:
    """A signed access token for `user`, with `key`'s kid in the header."""
    if key.private_key is None:
        raise ValueError(f"key {key.kid} is retired and cannot sign")
    claims = build_claims(policy, user=user, now=now or datetime.now(UTC), jti=uuid.uuid4().hex)
    return jwt.encode(claims, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})


def verify_access_token(
    token: str, policy: TokenPolicy, *, jwks: Sequence[Mapping[str, Any]], leeway: float = 0
) -> dict[str, Any]:
    """The claims of `token` if a key of `jwks` signed it and it is valid now; raises otherwise.

    Raises a `jwt.InvalidTokenError` subclass: `UnknownKeyError`, `ExpiredSignatureError`,
    `InvalidAudienceError`, `InvalidIssuerError`, `InvalidSignatureError`, ...
    """
    kid = jwt.get_unverified_header(token).get("kid")
    jwk = next((k for k in jwks if k.get("kid") == kid), None)
    if jwk is None:
        raise UnknownKeyError(f"no key with kid {kid!r} in the JWKS")
    key = jwt.PyJWK(dict(jwk), algorithm=ALGORITHM)
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=[ALGORITHM],
        audience=policy.audience,
        issuer=policy.issuer,
        leeway=leeway,
        options={"require": list(REQUIRED_CLAIMS)},
    )
    return claims
