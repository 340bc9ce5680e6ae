"""Signing keys (ECDSA P-256 for ES256), their public JWKs and the rotation window.

A key's life: created and published in the JWKS; signs every new token from `active_from`
until a newer key replaces it; then, during the overlap, it no longer signs but stays
published (`retire_at` = rotation time + overlap) so that every token it signed can still be
verified until that token expires; after `retire_at` it is dropped from the JWKS and marked
`retired` (its private part is then destroyed by the adapter).

`rotate_keys` and `published_keys` are pure functions of the key list and a clock: the key
ring (service_layer.keyring) persists what `rotate_keys` returns and serves what
`published_keys` selects; the unit tests walk the window with explicit times.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ALGORITHM = "ES256"


@dataclass(frozen=True)
class SigningKey:
    """One key of the ring; `private_key` is None once the key is retired."""

    kid: str
    private_key: ec.EllipticCurvePrivateKey | None
    public_jwk: dict[str, Any]
    active_from: datetime
    retire_at: datetime | None = None
    retired: bool = False

    def is_published(self, now: datetime) -> bool:
        """True while verifiers must be able to find this key in the JWKS."""
        return not self.retired and (self.retire_at is None or now < self.retire_at)

    def may_sign(self, now: datetime) -> bool:
        """True when this key may sign new tokens (active and not replaced)."""
        return (
            self.private_key is not None
            and not self.retired
            and self.retire_at is None
            and self.active_from <= now
        )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict[str, Any]) -> str:
    """The RFC 7638 SHA-256 thumbprint of an EC public JWK: a kid derived from the key itself."""
    required = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def public_jwk(private_key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """The public JWK (kty, crv, x, y, kid, alg, use) of `private_key`; never the private 'd'."""
    jwk: dict[str, Any] = dict(ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True))
    jwk.pop("d", None)  # to_jwk of a public key has none; this keeps it so if that changes
    jwk["kid"] = thumbprint(jwk)
    jwk["alg"] = ALGORITHM
    jwk["use"] = "sig"
    return jwk


def generate_signing_key(now: datetime) -> SigningKey:
    """A fresh P-256 key that signs from `now`."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk(private_key)
    return SigningKey(kid=jwk["kid"], private_key=private_key, public_jwk=jwk, active_from=now)


def private_pem(key: ec.EllipticCurvePrivateKey) -> str:
    """The unencrypted PKCS#8 PEM of `key` (what the database stores)."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def load_private_pem(pem: str) -> ec.EllipticCurvePrivateKey:
    """Parse a PEM written by `private_pem`."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError("signing key is not an EC private key")
    return key


def published_keys(keys: Sequence[SigningKey], now: datetime) -> list[SigningKey]:
    """The keys the JWKS lists at `now`, oldest first."""
    return sorted((k for k in keys if k.is_published(now)), key=lambda k: k.active_from)


def current_signing_key(keys: Sequence[SigningKey], now: datetime) -> SigningKey | None:
    """The newest key that may sign at `now`, or None."""
    candidates = [k for k in keys if k.may_sign(now)]
    return max(candidates, key=lambda k: k.active_from) if candidates else None


def needs_new_key(keys: Sequence[SigningKey]) -> bool:
    """True when no key can sign, now or later (a first start, or every key replaced)."""
    return not any(k.private_key is not None and k.retire_at is None for k in keys)


def retire_expired(keys: Sequence[SigningKey], now: datetime) -> list[SigningKey]:
    """`keys` with every key past its overlap marked retired and its private part dropped."""
    return [
        replace(k, retired=True, private_key=None)
        if not k.retired and k.retire_at is not None and k.retire_at <= now
        else k
        for k in keys
    ]


def rotate_keys(
    keys: Sequence[SigningKey], *, new_key: SigningKey, now: datetime, overlap: timedelta
) -> list[SigningKey]:
    """The ring after a rotation at `now`: `new_key` signs, the replaced keys retire later.

    A key already in its overlap keeps its earlier `retire_at`: rotating twice must not
    extend the life of a key nobody signs with any more.
    """
    rotated = [
        replace(k, retire_at=now + overlap) if k.retire_at is None and not k.retired else k
        for k in retire_expired(keys, now)
    ]
    return [*rotated, new_key]
