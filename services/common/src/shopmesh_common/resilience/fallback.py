"""The last good answer of a GET, kept in Redis to stand in when the downstream is down.

After a 2xx answer to a GET the client stores status, headers and body under
`shopmesh:fallback:{service}:{downstream}:{method}:{path}?{sorted query}` with a TTL;
when the circuit is open or the call fails for good, it serves that entry marked stale
(`x-shopmesh-stale: 1`, `age` in seconds). The key does not vary by caller, so turn
this on only for downstreams whose GET answers are the same for everyone (a catalog,
prices); answers marked `Cache-Control: no-store` or `private` are never kept.

The cache is a convenience: a Redis error or a slow Redis (past `timeout_seconds`) is
logged and the call carries on as if nothing was cached. Used by client.py.

An answer the same as the one this process stored last for its key (status, body and
headers but Date) is not written again until a tenth of the TTL has passed: a catalog read by every
visitor would otherwise cost a Redis write (JSON, base64 and a round trip on the way of
the answer) per request, for an entry that did not change. The entry's `age` then counts
from the first of those identical answers, so it may overstate, never understate, how old
the stale answer is; the TTL is renewed well before it runs out.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol
from urllib.parse import parse_qsl, urlencode

from shopmesh_common.resilience.response import STALE_HEADER, DownstreamResponse

log = logging.getLogger(__name__)

KEY_PREFIX = "shopmesh:fallback"
Params = Mapping[str, str | int | float]
# Keys whose last stored answer a process remembers (the oldest is forgotten first).
REMEMBERED_KEYS = 1024


class FallbackCache(Protocol):
    """The two commands of `redis.asyncio.Redis` the fallback uses."""

    def get(self, name: str, /) -> Awaitable[bytes | str | None]: ...

    def set(self, name: str, value: bytes, /, *, ex: int) -> Awaitable[object]: ...


def fallback_key(
    service: str, downstream: str, *, method: str, path: str, params: Params | None = None
) -> str:
    """Query parameters sorted, whether they came in the path or in `params`."""
    bare_path, _, query = path.partition("?")
    pairs = parse_qsl(query, keep_blank_values=True)
    pairs += [(name, str(value)) for name, value in (params or {}).items()]
    return f"{KEY_PREFIX}:{service}:{downstream}:{method}:{bare_path}?{urlencode(sorted(pairs))}"


def _same(stored: DownstreamResponse, new: DownstreamResponse) -> bool:
    """The same answer, whenever it was sent (its Date aside)."""
    if stored.status != new.status or stored.body != new.body:
        return False
    return {k: v for k, v in stored.headers.items() if k != "date"} == {
        k: v for k, v in new.headers.items() if k != "date"
    }


def is_storable(response: DownstreamResponse) -> bool:
    if not 200 <= response.status < 300:
        return False
    directives = response.headers.get("cache-control", "").lower()
    return "no-store" not in directives and "private" not in directives


class Fallback:
    def __init__(
        self,
        cache: FallbackCache,
        *,
        ttl_seconds: int,
        timeout_seconds: float = 0.25,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self._cache = cache
        self._ttl_seconds = ttl_seconds
        self._timeout_seconds = timeout_seconds
        self._wall_clock = wall_clock
        self._refresh_seconds = ttl_seconds / 10
        # key -> (when it was stored, what was stored)
        self._stored: dict[str, tuple[float, DownstreamResponse]] = {}

    async def store(self, key: str, response: DownstreamResponse) -> None:
        now = self._wall_clock()
        last = self._stored.get(key)
        if last is not None and now - last[0] < self._refresh_seconds and _same(last[1], response):
            return
        entry = {
            "status": response.status,
            "headers": dict(response.headers),
            "body": base64.b64encode(response.body).decode("ascii"),
            "stored_at": now,
        }
        try:
            async with asyncio.timeout(self._timeout_seconds):
                await self._cache.set(key, json.dumps(entry).encode(), ex=self._ttl_seconds)
        except Exception:
            log.warning("could not store the fallback for %s", key, exc_info=True)
            return
        self._stored.pop(key, None)
        if len(self._stored) >= REMEMBERED_KEYS:
            del self._stored[next(iter(self._stored))]
        self._stored[key] = (now, response)

    async def load(self, key: str) -> DownstreamResponse | None:
        """The stored answer marked stale, or None if there is none (or no Redis)."""
        try:
            async with asyncio.timeout(self._timeout_seconds):
                raw = await self._cache.get(key)
            if raw is None:
                return None
            entry = json.loads(raw)
            age = max(0, int(self._wall_clock() - float(entry["stored_at"])))
            headers = {str(name): str(value) for name, value in entry["headers"].items()}
            headers.update({STALE_HEADER: "1", "age": str(age)})
            return DownstreamResponse(
                status=int(entry["status"]),
                headers=headers,
                body=base64.b64decode(entry["body"]),
                stale=True,
            )
        except Exception:
            log.warning("could not load the fallback for %s", key, exc_info=True)
            return None
