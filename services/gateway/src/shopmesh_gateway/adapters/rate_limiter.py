"""Rate-limit counters in Redis: every counter of one request in one atomic round trip.

A sliding log per counter: a sorted set of the admitted requests' times (Redis' own
clock, microseconds). A request is admitted when every one of its counters holds fewer
than its limit inside the last window; only then is it added to each, so at most `limit`
requests are admitted in ANY span of `window` (a fixed window admits up to 2x the limit
across its end, and a GCRA bucket with a burst of `limit` up to about 2x within one
window), and a request one scope refuses costs the other scopes nothing. Each counter
answers (admitted in the window, this one included; or limit + 1 when refused) and the
milliseconds until its oldest entry leaves the window (when a refused client may try
again). One Lua script does this for all the counters of a request (per user and per
IP), so a check costs one round trip (EVALSHA), and Redis runs scripts one at a time,
so gateway replicas sharing a Redis count exactly. A counter holds at most `limit`
entries and expires one window after its last admitted request.

Why a script of our own and not the `limits` library's async Redis storage: `limits`
answers hit() with a bool, and the remaining count and reset time that the RateLimit-*
headers need take a second call (get_window_stats), i.e. two round trips and a race
between them; it also checks several limits with one call each.

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
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local stamp = t[1] .. '.' .. t[2]
local out, admitted = {}, true
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i]) * 1000
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key)
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
  out[2 * i - 1] = count
  out[2 * i] = oldest and (tonumber(oldest) + window - now) or window
  if count >= limit then admitted = false end
end
for i, key in ipairs(KEYS) do
  local limit = tonumber(ARGV[2 * i - 1])
  local window = tonumber(ARGV[2 * i])
  if admitted then
    redis.call('ZADD', key, now, stamp .. ':' .. out[2 * i - 1])
    redis.call('PEXPIRE', key, window)
    if out[2 * i - 1] == 0 then out[2 * i] = window * 1000 end
    out[2 * i - 1] = out[2 * i - 1] + 1
  elseif out[2 * i - 1] >= limit then
    out[2 * i - 1] = limit + 1
  end
  out[2 * i] = math.ceil(out[2 * i] / 1000)
end
return out
"""


class RedisRateLimiter:
    """Counts hits in Redis; raises whatever Redis raises, or TimeoutError."""

    def __init__(self, redis: Redis, *, timeout_seconds: float) -> None:
        self._script: Any = redis.register_script(_SCRIPT)
        self._timeout = timeout_seconds

    async def hit(
        self, keys: Sequence[str], limits: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Admit one request on every key or on none; `limits`: (limit, window ms) per
        key. Returns (count, milliseconds until a slot frees) per key."""
        async with asyncio.timeout(self._timeout):
            raw = await self._script(keys=list(keys), args=_args(limits))
        return _pairs(raw)

    async def close(self) -> None:
        """Nothing of its own to close: the Redis client belongs to main."""


SCRIPT_SHA = hashlib.sha1(_SCRIPT.encode()).hexdigest()


def _args(limits: Sequence[tuple[int, int]]) -> list[int]:
    return [value for pair in limits for value in pair]


def _pairs(raw: Any) -> list[tuple[int, int]]:
    if not isinstance(raw, list) or len(raw) % 2:
        raise ValueError(f"unexpected rate-limit script reply: {raw!r}")
    return [(int(raw[i]), int(raw[i + 1])) for i in range(0, len(raw), 2)]


class RespRateLimiter:
    """The same script over adapters.resp's pipelined connection."""

    def __init__(self, client: RespClient) -> None:
        self._client = client  # its reply timeout bounds each call

    async def hit(
        self, keys: Sequence[str], limits: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Admit one request on every key or on none, as RedisRateLimiter.hit."""
        args = _args(limits)
        try:
            raw = await self._client.call("EVALSHA", SCRIPT_SHA, len(keys), *keys, *args)
        except RedisReplyError as error:
            if not str(error).startswith("NOSCRIPT"):
                raise
            # First use on this Redis (or after SCRIPT FLUSH): EVAL caches it for next time.
            raw = await self._client.call("EVAL", _SCRIPT, len(keys), *keys, *args)
        return _pairs(raw)

    async def close(self) -> None:
        await self._client.close()
