"""The users service's JWKS, cached: which public key verifies which kid.

`key(kid)` answers from memory. A kid it does not know triggers one refetch, at most once
per `refetch_interval` seconds however many tokens carry unknown kids (a burst of forged
kids cannot make the gateway hammer users), and concurrent requests share the fetch in
flight; that is how a key rotated in at users becomes usable here. Once the keys are
older than `max_age`, the next request refreshes them in the background (it does not
wait), which is how a rotated-out key disappears. A failed fetch keeps the keys we have.
Only if no JWKS was ever loaded does `key` raise KeysUnavailable (the gateway answers
503: it cannot tell a good token from a bad one, and that is not the client's fault).

Only signature keys for the allowed algorithms are kept: a symmetric (`oct`) key, a key
whose `alg` is outside the allow-list or whose `use` is not `sig` is ignored. Used by
service_layer.authentication and the JWKS route (`document`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import jwt

from ..domain.tokens import KID
from ..metrics import JWKS_FETCHES

log = logging.getLogger(__name__)

Fetch = Callable[[], Awaitable[bytes]]
KeysChanged = Callable[[frozenset[str]], None]
# Spacing of fetches that are not for an unknown kid (first load, refresh) while they fail.
_RETRY_SECONDS = 1.0


class KeysUnavailable(Exception):
    """No JWKS was ever loaded and fetching one failed."""


def parse_jwks(document: bytes, algorithms: Collection[str]) -> dict[str, jwt.PyJWK]:
    """The usable keys of a JWKS document by kid; raises ValueError if it is no JWKS."""
    parsed = json.loads(document)
    if not isinstance(parsed, dict) or not isinstance(parsed.get("keys"), list):
        raise ValueError("not a JWKS: no 'keys' list")
    keys: dict[str, jwt.PyJWK] = {}
    for jwk in parsed["keys"]:
        if not isinstance(jwk, dict):
            continue
        kid, alg = jwk.get("kid"), jwk.get("alg")
        if not isinstance(kid, str) or not KID.match(kid) or jwk.get("kty") == "oct":
            continue
        if jwk.get("use", "sig") != "sig" or (alg is not None and alg not in algorithms):
            continue
        try:
            key = jwt.PyJWK(jwk)
        except jwt.PyJWTError:
            log.warning("ignoring an unusable key in the JWKS: kid %s", kid)
            continue
        if key.algorithm_name in algorithms:
            keys[kid] = key
    return keys


class JwksCache:
    def __init__(
        self,
        fetch: Fetch,
        *,
        algorithms: Collection[str],
        max_age: float,
        refetch_interval: float,
        service: str = "gateway",
        on_change: KeysChanged | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._algorithms = frozenset(algorithms)
        self._max_age = max_age
        self._refetch_interval = refetch_interval
        self._service = service
        self._on_change = on_change
        self._clock = clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._document: bytes | None = None
        self._loaded_at = 0.0
        self._last_attempt = float("-inf")
        self._last_refetch = float("-inf")
        self._inflight: asyncio.Future[None] | None = None
        self.fetches = 0

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    async def key(self, kid: str) -> jwt.PyJWK | None:
        """The key for `kid`, or None if the JWKS does not have it even after a refetch."""
        key = self._keys.get(kid)
        if key is not None:
            self.refresh_if_old()
            return key
        await self._refetch()
        return self._keys.get(kid)

    async def document(self) -> bytes:
        """The JWKS as users published it (what GET /.well-known/jwks.json serves)."""
        if self._document is None:
            await self._refetch()
        else:
            self.refresh_if_old()
        if self._document is None:
            raise KeysUnavailable("the signing keys could not be fetched from users")
        return self._document

    async def close(self) -> None:
        """Cancel a fetch still running (the app is stopping)."""
        if self._inflight is not None and not self._inflight.done():
            self._inflight.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._inflight

    async def _refetch(self) -> None:
        """Fetch now unless a fetch is running (then wait for it) or throttled.

        Only refetches for unknown kids count against `refetch_interval`: a load at start-up
        or a background refresh must not delay the first token of a freshly rotated key.
        """
        if self._inflight is None or self._inflight.done():
            now = self._clock()
            if self._document is None:
                throttled = now - self._last_attempt < _RETRY_SECONDS
            else:
                throttled = now - self._last_refetch < self._refetch_interval
            if throttled:
                if self._document is None:
                    raise KeysUnavailable("the signing keys could not be fetched from users")
                return
            if self._document is not None:
                self._last_refetch = now
            self._start()
        assert self._inflight is not None
        await asyncio.shield(self._inflight)
        if self._document is None:
            raise KeysUnavailable("the signing keys could not be fetched from users")

    def refresh_if_old(self) -> None:
        """Start a background refresh when the keys are older than `max_age` (no waiting)."""
        now = self._clock()
        if (
            now - self._loaded_at > self._max_age
            and now - self._last_attempt >= _RETRY_SECONDS
            and (self._inflight is None or self._inflight.done())
        ):
            self._start()

    def _start(self) -> None:
        self._last_attempt = self._clock()
        self._inflight = asyncio.ensure_future(self._load())

    async def _load(self) -> None:
        """Fetch and install the JWKS; never raises (a failure keeps the old keys)."""
        self.fetches += 1
        try:
            document = await self._fetch()
            keys = parse_jwks(document, self._algorithms)
        except Exception as error:
            JWKS_FETCHES.labels(self._service, "failure").inc()
            log.warning("could not fetch the JWKS from users: %s", error or type(error).__name__)
            return
        JWKS_FETCHES.labels(self._service, "success").inc()
        changed = set(keys) != set(self._keys)
        self._keys, self._document, self._loaded_at = keys, document, self._clock()
        if changed:
            log.info("JWKS loaded: kids %s", sorted(keys))
            if self._on_change is not None:
                self._on_change(frozenset(keys))


def jwks_fetcher(request: Callable[..., Awaitable[Any]], *, timeout: float) -> Fetch:
    """A Fetch over a resilient client's `request` (users' GET /.well-known/jwks.json)."""

    async def fetch() -> bytes:
        response = await request("GET", "/.well-known/jwks.json", timeout=timeout)
        if response.status != 200:
            raise ValueError(f"users answered {response.status} for its JWKS")
        body: bytes = response.body
        return body

    return fetch
