"""API-key material for machine clients: how a key looks, how it is stored, what it may do.

A key is `smk_` + 32 random bytes (base64url): 256 bits from `secrets`. Only its SHA-256
is stored, and requests are matched by that hash (one indexed lookup). Why not argon2 or
bcrypt, as for passwords: slow hashes protect low-entropy secrets that people choose; a
256-bit random key cannot be guessed from its hash however fast the hash is, and a slow
hash would cost every API call tens of milliseconds of CPU. The first 8 characters are
kept in clear (`prefix`) so that people can tell keys apart in the admin listing.

Pure; used by service_layer.api_keys and its tests.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

PREFIX = "smk_"
_KEY = re.compile(r"^smk_[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True, slots=True)
class NewKey:
    """A freshly generated key: `secret` is shown once, `digest` is what is stored."""

    secret: str
    digest: bytes

    @property
    def prefix(self) -> str:
        return self.secret[:8]


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """A stored key, without its secret."""

    id: str
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked_at: datetime | None


def generate_key() -> NewKey:
    """A new random key and its digest."""
    secret = PREFIX + secrets.token_urlsafe(32)
    return NewKey(secret=secret, digest=digest_of(secret))


def digest_of(secret: str) -> bytes:
    """What the database stores for `secret` (and looks it up by)."""
    return hashlib.sha256(secret.encode()).digest()


def looks_like_key(value: str) -> bool:
    """True when `value` has the shape of a key (checked before any hashing or lookup)."""
    return _KEY.match(value) is not None
