"""API keys for machine clients: issue, list, revoke, and recognise one on a request.

A recognised key becomes an Identity acting as `key:<id>` with the key's scopes (route
names, domain.routes.API_KEY_SCOPES). Lookups are remembered for `cache_seconds`, both
hits and misses (a miss can never turn into a hit: new keys are new random strings), so
a busy machine client costs no database query per request. A revocation takes effect at
once on every replica: the one that revoked publishes it (adapters.revocation_feed) and
each replica's follower calls `forget`; a replica not subscribed caches nothing
(`set_caching`). Without a feed (unit tests) caching is on and a revocation is local. A
database failure while checking a key is a 503, never a 500 and never a pass.

Used by service_layer.authentication and api.admin.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from shopmesh_common.db import Database
from shopmesh_common.problems import Problem

from ..adapters import api_keys_repo
from ..adapters.revocation_feed import RevocationFeed
from ..domain.api_keys import ApiKeyRecord, digest_of, generate_key, looks_like_key
from ..domain.identity import Identity, api_key_subject
from ..domain.routes import API_KEY_SCOPES

log = logging.getLogger(__name__)

_MAX_CACHED = 10_000


class ApiKeys:
    def __init__(
        self,
        db: Database,
        *,
        cache_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        feed: RevocationFeed | None = None,
    ) -> None:
        self._db = db
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[bytes, tuple[Identity | None, float]] = {}
        self._feed = feed
        self._caching = feed is None  # with a feed: only while subscribed to it

    def set_caching(self, on: bool) -> None:
        """Cache lookups or not; either way what was cached is forgotten."""
        self._caching = on
        self._cache.clear()

    def forget(self, key_id: str) -> None:
        """Drop every cached lookup of key `key_id` (revoked here or on another replica)."""
        for digest, (identity, _) in list(self._cache.items()):
            if identity is not None and identity.api_key_id == key_id:
                del self._cache[digest]

    async def identify(self, secret: str) -> Identity | None:
        """The identity of an active key, or None for anything else."""
        if not looks_like_key(secret):
            return None
        digest = digest_of(secret)
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        try:
            record = await api_keys_repo.find_active(self._db, digest)
        except Exception:
            log.warning("could not look up an API key", exc_info=True)
            raise Problem(
                503,
                "API keys cannot be checked right now; try again shortly",
                type_="api-keys-unavailable",
                headers={"Retry-After": "1"},
            ) from None
        identity = None
        if record is not None:
            identity = Identity(
                subject=api_key_subject(record.id),
                api_key_id=record.id,
                scopes=frozenset(record.scopes),
            )
        if self._caching and self._cache_seconds > 0:
            if len(self._cache) >= _MAX_CACHED:
                del self._cache[next(iter(self._cache))]
            self._cache[digest] = (identity, self._clock() + self._cache_seconds)
        return identity

    async def issue(self, *, name: str, scopes: list[str]) -> tuple[ApiKeyRecord, str]:
        """A new key with `scopes`; returns its record and the secret (shown once)."""
        unknown = sorted(set(scopes) - API_KEY_SCOPES)
        if unknown:
            raise Problem(
                422,
                f"unknown scopes {unknown}; an API key may hold {sorted(API_KEY_SCOPES)}",
                type_="validation-error",
            )
        key = generate_key()
        record = await api_keys_repo.insert(
            self._db, name=name, scopes=sorted(set(scopes)), key=key
        )
        return record, key.secret

    async def list_keys(self) -> list[ApiKeyRecord]:
        return await api_keys_repo.list_all(self._db)

    async def revoke(self, key_id: uuid.UUID) -> bool:
        """Revoke the key; False if there is none with that id."""
        found = await api_keys_repo.revoke(self._db, key_id)
        self.forget(str(key_id))
        if found and self._feed is not None:
            await self._feed.publish(str(key_id))
        return found
