"""The last complete "my orders" answer per user, in Redis, to stand in for a side that
is down (service_layer.composition).

Shared by every gateway replica; a convenience only: a Redis error or a slow Redis is
logged and treated as "nothing cached". Keys: `shopmesh:gateway:composed:{user_id}`.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

from redis.asyncio import Redis

log = logging.getLogger(__name__)

KEY_PREFIX = "shopmesh:gateway:composed"


class CompositionCache:
    def __init__(self, redis: Redis, *, ttl_seconds: int, timeout_seconds: float = 0.25) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._timeout = timeout_seconds

    async def load(self, user_id: str) -> dict[str, Any] | None:
        try:
            async with asyncio.timeout(self._timeout):
                raw = await self._redis.get(f"{KEY_PREFIX}:{user_id}")
            if raw is None:
                return None
            value = json.loads(raw)
            return value if isinstance(value, dict) else None
        except Exception:
            log.warning("could not load the last good answer for user %s", user_id, exc_info=True)
            return None

    async def store(self, user_id: str, value: dict[str, Any]) -> None:
        try:
            async with asyncio.timeout(self._timeout):
                await self._redis.set(
                    f"{KEY_PREFIX}:{user_id}", json.dumps(value).encode(), ex=self._ttl
                )
        except Exception:
            log.warning("could not store the last good answer for user %s", user_id, exc_info=True)
