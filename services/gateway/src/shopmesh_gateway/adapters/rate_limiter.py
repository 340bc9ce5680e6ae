"""Rate-limit counters in Redis: every counter of one request in one atomic round trip.

A fixed window that starts at a client's first request: INCR the counter, and if it has
no expiry yet, give it one of the window's length; return every counter's value and
time to live. One Lua script does this for all the counters of a request (per user and
per IP), so a check costs one round trip (EVALSHA), and Redis runs scripts one at a
time, so gateway replicas sharing a Redis count exactly: N requests against a limit of
L are admitted exactly min(N, L) times, whichever replica each one hits.

Why a script of our own and not the `limits` library's async Redis storage: `limits`
answers hit() with a bool, and the remaining count and reset time that the RateLimit-*
headers need take a second call (get_window_stats), i.e. two round trips and a race
between them; it also checks several limits with one call each. Why a fixed window and
not a sliding one: the counts are exact within a window, the headers are simple to state
(remaining, reset), and the window starts at the client's first request rather than on
a clock boundary, so there is no burst at a shared boundary for all clients at once.
The cost is that a client may send up to 2x the limit across the end of its window.

The keys of one request live in different Redis Cluster slots; on a cluster, run one
script per key. Two implementations of the same call: RespRateLimiter over the gateway's
own pipelined connection (adapters.resp: several times cheaper per request, so the default
for plain redis:// URLs) and RedisRateLimiter over redis-py (TLS, sockets, anything else).
Used by service_layer.rate_limiting.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis

from .resp import RedisReplyError, RespClient

_SCRIPT = """
local out = {}
for i, key in ipairs(KEYS) do
  local count = redis.call('INCR', key)
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    ttl = tonumber(ARGV[i])
    redis.call('PEXPIRE', key, ttl)
  end
  out[2 * i - 1] = count
  out[2 * i] = ttl
end
return out
"""


class RedisRateLimiter:
    """Counts hits in Redis; raises whatever Redis raises, or TimeoutError."""

    def __init__(self, redis: Redis, *, timeout_seconds: float) -> None:
        self._script: Any = redis.register_script(_SCRIPT)
        self._timeout = timeout_seconds

    async def hit(self, keys: Sequence[str], windows_ms: Sequence[int]) -> list[tuple[int, int]]:
        """Count one hit on each key; returns (count, milliseconds left) per key."""
        async with asyncio.timeout(self._timeout):
            raw = await self._script(keys=list(keys), args=list(windows_ms))
        return _pairs(raw)

    async def close(self) -> None:
        """Nothing of its own to close: the Redis client belongs to main."""


SCRIPT_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()


def _pairs(raw: Any) -> list[tuple[int, int]]:
    if not isinstance(raw, list) or len(raw) % 2:
        raise ValueError(f"unexpected rate-limit script reply: {raw!r}")
    return [(int(raw[i]), int(raw[i + 1])) for i in range(0, len(raw), 2)]


class RespRateLimiter:
    """The same script over adapters.resp's pipelined connection."""

    def __init__(self, client: RespClient) -> None:
        self._client = client  # its reply timeout bounds each call

    async def hit(self, keys: Sequence[str], windows_ms: Sequence[int]) -> list[tuple[int, int]]:
        """Count one hit on each key; returns (count, milliseconds left) per key."""
        try:
            raw = await self._client.call("EVALSHA", SCRIPT_SHA, len(keys), *keys, *windows_ms)
        except RedisReplyError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
            # First use on this Redis (or after SCRIPT FLUSH): EVAL caches it for next time.
            raw = await self._client.call("EVAL", _SCRIPT, len(keys), *keys, *windows_ms)
        return _pairs(raw)

    async def close(self) -> None:
        await self._client.close()
