"""The signing key ring: which key signs, which keys the JWKS publishes, and rotation.

Used by the login use case (`signing_key`), the JWKS route (`jwks`) and the admin rotate
route (`rotate`); `main` calls `ensure_signing_key` at start-up. The ring lives in the
database (see adapters.keys_repo) and is cached in memory: a replica reloads it when the
cache is older than `reload_seconds` and right after its own rotation, so after a rotation
on one replica the others switch to the new key within `reload_seconds`. They may sign
with the old key until then, which is why the overlap must exceed ttl + reload_seconds
(the default ttl + 60 s does). Whether a cached key is still published is decided against
the clock on every request, so an old key leaves the JWKS exactly at its `retire_at`.

A rotated-in key signs at once; a verifier holding a cached JWKS (max-age 60) that meets
an unknown kid refetches the JWKS (what JWKS clients such as PyJWT's PyJWKClient do).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from shopmesh_common.db import Database

from ..adapters import keys_repo
from ..domain.errors import NoSigningKey
from ..domain.keys import (
    SigningKey,
    current_signing_key,
    generate_signing_key,
    needs_new_key,
    published_keys,
    retire_expired,
    rotate_keys,
)


def utcnow() -> datetime:
    """The wall clock, timezone-aware."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class Rotation:
    """What a rotation did: the new key and the keys now in their overlap."""

    kid: str
    active_from: datetime
    retiring: list[tuple[str, datetime]]


class KeyRing:
    """The database-backed, memory-cached ring of ES256 signing keys."""

    def __init__(
        self,
        db: Database,
        *,
        overlap_seconds: float,
        reload_seconds: float,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._db = db
        self._overlap = timedelta(seconds=overlap_seconds)
        self._reload_seconds = reload_seconds
        self._clock = clock
        self._keys: list[SigningKey] = []
        self._loaded_at = float("-inf")
        self._reload_lock = asyncio.Lock()

    async def ensure_signing_key(self) -> bool:
        """Create a key if none can sign (first start); True if this call created it."""
        async with self._db.transaction() as conn:
            await keys_repo.lock_keys(conn)
            keys = await keys_repo.load_keys(conn)
            created = needs_new_key(keys)
            if created:
                now = self._clock()
                after = [*retire_expired(keys, now), generate_signing_key(now)]
                await keys_repo.save_keys(conn, before=keys, after=after, now=now)
        await self.reload()
        return created

    async def rotate(self) -> Rotation:
        """Make a new key the signer from now on; the replaced keys retire after the overlap."""
        async with self._db.transaction() as conn:
            await keys_repo.lock_keys(conn)
            keys = await keys_repo.load_keys(conn)
            now = self._clock()
            new_key = generate_signing_key(now)
            after = rotate_keys(keys, new_key=new_key, now=now, overlap=self._overlap)
            await keys_repo.save_keys(conn, before=keys, after=after, now=now)
        await self.reload()
        retiring = [
            (k.kid, k.retire_at)
            for k in after
            if k.retire_at is not None and not k.retired and k.kid != new_key.kid
        ]
        return Rotation(kid=new_key.kid, active_from=now, retiring=retiring)

    async def reload(self) -> None:
        """Read the ring from the database into the cache."""
        async with self._db.connection() as conn:
            keys = await keys_repo.load_keys(conn)
        self._keys = keys
        self._loaded_at = time.monotonic()

    async def _fresh_keys(self) -> list[SigningKey]:
        if time.monotonic() - self._loaded_at >= self._reload_seconds:
            async with self._reload_lock:
                # Another request may have reloaded while this one waited for the lock.
                if time.monotonic() - self._loaded_at >= self._reload_seconds:
                    await self.reload()
        return self._keys

    async def signing_key(self) -> SigningKey:
        """The key that signs new tokens now."""
        key = current_signing_key(await self._fresh_keys(), self._clock())
        if key is None:
            raise NoSigningKey()
        return key

    async def jwks(self) -> list[dict[str, Any]]:
        """The public JWKs of every key that is active or in its overlap window."""
        keys = published_keys(await self._fresh_keys(), self._clock())
        return [dict(k.public_jwk) for k in keys]
