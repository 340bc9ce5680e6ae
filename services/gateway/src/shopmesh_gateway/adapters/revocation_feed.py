"""Revoked API keys told to every gateway replica at once, over Redis pub/sub.

Each replica caches key lookups for `api_key_cache_seconds` (service_layer.api_keys). The
replica that revokes a key drops it from its own cache and publishes the key's id on one
channel; every replica follows the channel and drops it too, so a revoked key stops
working everywhere within a message's latency, not within the cache time. A message
missed while a replica was not subscribed cannot be recovered, so a replica caches keys
only while it is subscribed: on losing the subscription it stops caching and forgets
every key, and when subscribed again it starts caching afresh. A health-checked
connection of its own finds a silently dead subscription within a few seconds.

Used by main (the follower runs as a background task) and service_layer.api_keys.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from redis.asyncio import Redis

log = logging.getLogger(__name__)

CHANNEL = "shopmesh:gateway:api-key-revoked"


class KeyCache(Protocol):
    def forget(self, key_id: str) -> None: ...
    def set_caching(self, on: bool) -> None: ...


class RevocationFeed:
    """Publishes revocations and follows them on `redis_url` (its own connection)."""

    def __init__(self, redis_url: str, *, channel: str = CHANNEL, retry_seconds: float = 1.0):
        self._redis = Redis.from_url(redis_url, socket_connect_timeout=1.0, health_check_interval=2)
        self._channel = channel
        self._retry_seconds = retry_seconds
        self.subscribed = asyncio.Event()

    async def publish(self, key_id: str) -> None:
        """Tell every replica; a failure is logged (replicas that cannot hear it either
        have lost their subscription and cache nothing)."""
        try:
            await asyncio.wait_for(self._redis.publish(self._channel, key_id), timeout=1.0)
        except Exception as error:
            log.warning("could not publish the revocation of API key %s: %s", key_id, error)

    async def follow(self, cache: KeyCache) -> None:
        """Forget every key revoked anywhere, for ever (a background task)."""
        while True:
            try:
                async with self._redis.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    cache.set_caching(True)
                    self.subscribed.set()
                    while True:
                        message = await pubsub.get_message(
                            ignore_subscribe_messages=True, timeout=1.0
                        )
                        if message is not None and message["type"] == "message":
                            cache.forget(message["data"].decode())
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.warning("API key revocations unheard (%s); caching no keys", error)
            finally:
                cache.set_caching(False)
                self.subscribed.clear()
            await asyncio.sleep(self._retry_seconds)

    async def close(self) -> None:
        await self._redis.aclose()
