"""GET /api/users/{id}/orders: users' profile and order-history's view, fetched in parallel.

Both calls go out at once through the resilient client (timeouts, retries for these GETs,
breakers). users answering 404 means there is no such user: 404. order-history answering
404 means its view has not seen the customer yet: no orders, not a failure. A side that
is down (DownstreamUnavailable, or a 5xx) is filled in by domain.composition.compose,
with the last complete answer kept in Redis (adapters.composition_cache) when enabled;
each complete answer replaces it. Used by api.routes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from shopmesh_common.problems import Problem
from shopmesh_common.resilience import DownstreamUnavailable, ResilientClient

from ..adapters.composition_cache import CompositionCache
from ..domain.composition import compose

log = logging.getLogger(__name__)

_DOWN = object()


class UserOrders:
    def __init__(
        self,
        *,
        users: ResilientClient,
        history: ResilientClient,
        cache: CompositionCache | None,
        timeout_seconds: float,
    ) -> None:
        self._users = users
        self._history = history
        self._cache = cache
        self._timeout = timeout_seconds

    async def get(self, user_id: str, *, headers: Mapping[str, str]) -> dict[str, Any]:
        """The composed body; raises a 404 or 503 Problem."""
        user, history = await asyncio.gather(
            self._fetch(self._users, f"/users/{user_id}", headers),
            self._fetch(self._history, f"/users/{user_id}/orders", headers),
        )
        if user is None:
            raise Problem(404, f"no user {user_id}", type_="user-not-found")
        if history is None:
            history = {"customer": None, "orders": []}
        live_user = None if user is _DOWN else user
        live_history = None if history is _DOWN else history
        cached = None
        if self._cache is not None and (live_user is None or live_history is None):
            cached = await self._cache.load(user_id)
        composed = compose(user=live_user, history=live_history, cached=cached)
        if composed is None:
            raise Problem(
                503,
                "neither users nor order-history is available, and nothing is cached",
                type_="upstream-unavailable",
                headers={"Retry-After": "1"},
            )
        if composed.complete and self._cache is not None:
            await self._cache.store(
                user_id, {"user": composed.body["user"], "orders": composed.body["orders"]}
            )
        return composed.body

    async def _fetch(self, client: ResilientClient, path: str, headers: Mapping[str, str]) -> Any:
        """The parsed body; None for a 404 or other 4xx; _DOWN when the side is down."""
        try:
            answer = await client.request("GET", path, headers=headers, timeout=self._timeout)
        except DownstreamUnavailable as error:
            log.warning("%s is down for a composed answer: %s", error.downstream, error.reason)
            return _DOWN
        if answer.status >= 500:
            log.warning("%s answered %s for a composed answer", client.settings.name, answer.status)
            return _DOWN
        if answer.status != 200:
            return None
        try:
            return answer.json()
        except ValueError:
            return _DOWN
