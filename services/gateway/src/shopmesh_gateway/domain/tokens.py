"""Access-token checks: what a token must look like and claim before the gateway trusts it.

Two steps, both pure given the key: `read_header` runs before any key lookup and refuses
what should never reach one (oversized tokens, algorithms outside the allow-list such as
`none` or HS256, kids that are not plain identifiers, `crit` extensions); `verify_claims`
checks the signature with PyJWT against the one key the kid named, pinned to that key's
algorithm, and the registered claims: iss, aud, exp and nbf with a small leeway; exp, iss,
aud and sub are required. Header parameters that carry or point to keys (`jwk`, `jku`,
`x5u`, `x5c`) are never read: keys come only from the JWKS the gateway fetched itself.

Every refusal is a TokenRejected with a short `reason` (the metric label) and a `detail`
for the 401 body. Used by service_layer.authentication and the unit attack table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import jwt

from .identity import Identity

# RFC 7638 thumbprints are 43 base64url characters; allow some room, nothing else.
KID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
# The subject goes upstream as X-User-Id: the same shape the services accept.
SUBJECT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub")


@dataclass(frozen=True, kw_only=True)
class TokenPolicy:
    """Whose tokens the gateway accepts, signed how, and how much clock skew it forgives."""

    issuer: str
    audience: str
    algorithms: frozenset[str]
    leeway_seconds: float
    max_bytes: int
    max_header_bytes: int


class TokenRejected(Exception):
    """The token is not acceptable; `reason` is a short label, `detail` says why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Header:
    kid: str
    alg: str


def read_header(token: str, policy: TokenPolicy) -> Header:
    """The kid and algorithm of `token`, checked before any key is looked up."""
    if len(token) > policy.max_bytes:
        raise TokenRejected("too_large", f"the token is longer than {policy.max_bytes} bytes")
    header_segment, dot, _rest = token.partition(".")
    if not dot or token.count(".") != 2:
        raise TokenRejected("malformed", "the token is not a compact JWS (three segments)")
    if len(header_segment) > policy.max_header_bytes:
        raise TokenRejected("too_large", "the token's header is too large")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise TokenRejected("malformed", "the token's header cannot be decoded") from None
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in policy.algorithms:
        raise TokenRejected("algorithm", "the token's algorithm is not accepted")
    if "crit" in header:
        raise TokenRejected("malformed", "critical header extensions are not supported")
    kid = header.get("kid")
    if not isinstance(kid, str) or not KID.match(kid):
        raise TokenRejected("kid", "the token has no usable key id (kid)")
    return Header(kid=kid, alg=alg)


# PyJWT's errors, most specific first (several are subclasses of others).
_REASONS: tuple[tuple[type[jwt.PyJWTError], str, str], ...] = (
    (jwt.ExpiredSignatureError, "expired", "the token has expired"),
    (jwt.ImmatureSignatureError, "not_yet_valid", "the token is not valid yet"),
    (jwt.InvalidAudienceError, "audience", "the token is not meant for this audience"),
    (jwt.InvalidIssuerError, "issuer", "the token was not issued by the users service"),
    (jwt.MissingRequiredClaimError, "missing_claim", "the token lacks a required claim"),
    (jwt.InvalidSignatureError, "signature", "the token's signature does not verify"),
    (jwt.InvalidAlgorithmError, "algorithm", "the token's algorithm is not accepted"),
    (jwt.DecodeError, "malformed", "the token cannot be decoded"),
)


def verify_claims(
    token: str, key: jwt.PyJWK, header: Header, policy: TokenPolicy
) -> tuple[Identity, int]:
    """The identity the token proves and its `exp`; raises TokenRejected."""
    if header.alg != key.algorithm_name:
        raise TokenRejected("algorithm", "the token's algorithm does not match its key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[key.algorithm_name],
            audience=policy.audience,
            issuer=policy.issuer,
            leeway=policy.leeway_seconds,
            options={"require": list(REQUIRED_CLAIMS)},
        )
    except jwt.PyJWTError as error:
        for kind, reason, detail in _REASONS:
            if isinstance(error, kind):
                raise TokenRejected(reason, detail) from None
        raise TokenRejected("invalid", "the token is not valid") from None
    subject = claims.get("sub")
    if not isinstance(subject, str) or not SUBJECT.match(subject):
        raise TokenRejected("subject", "the token's subject is missing or malformed")
    email = claims.get("email")
    if not isinstance(email, str) or len(email) > 320 or not email.isprintable():
        email = None
    exp = claims["exp"]
    return Identity(subject=subject, email=email), int(exp)
