"""Whether this replica is the active one, for the work kopf does not schedule.

kopf pauses its own handlers while a peer of higher priority is alive (kopf
peering), but the child watches (watch.py) and the resync (resync.py) are our
own tasks, so they ask here first. The rule is kopf's: active unless a live
peer has a higher priority, or another live peer has the same one. The answer
is read from the (Cluster)KopfPeering objects and cached for a few seconds.
Used by handlers/lifecycle.py.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shopmesh_operator.apply import ApiException, KubeApi
from shopmesh_operator.scope import in_scope

CACHE_SECONDS = 3.0


def live_priorities(peerings: Sequence[dict[str, Any]], now: datetime) -> list[int]:
    """The priorities of the peers whose lastseen + lifetime is still ahead."""
    priorities = []
    for peering in peerings:
        for info in (peering.get("status") or {}).values():
            if not isinstance(info, dict) or "lastseen" not in info:
                continue
            seen = datetime.fromisoformat(str(info["lastseen"]).replace("Z", "+00:00"))
            if seen.tzinfo is None:
                seen = seen.replace(tzinfo=UTC)
            if seen + timedelta(seconds=int(info.get("lifetime", 60))) > now:
                priorities.append(int(info.get("priority", 0)))
    return priorities


def is_active(my_priority: int, priorities: Sequence[int]) -> bool:
    """kopf's rule; `priorities` includes this replica's own entry."""
    return not any(p > my_priority for p in priorities) and priorities.count(my_priority) <= 1


class PeeringGate:
    def __init__(
        self, api: KubeApi, *, name: str | None, priority: int, namespaces: Sequence[str]
    ) -> None:
        self._api = api
        self._name = name
        self._priority = priority
        self._namespaces = tuple(namespaces)
        self._cached: tuple[float, bool] = (0.0, True)

    async def active(self) -> bool:
        if self._name is None:  # standalone
            return True
        stamp, answer = self._cached
        if time.monotonic() - stamp < CACHE_SECONDS:
            return answer
        try:
            peerings = await self._peerings()
        except ApiException:
            return answer  # keep the last answer while the API is unreachable
        answer = is_active(self._priority, live_priorities(peerings, datetime.now(UTC)))
        self._cached = (time.monotonic(), answer)
        return answer

    async def _peerings(self) -> list[dict[str, Any]]:
        if not self._namespaces:
            path = f"/apis/kopf.dev/v1/clusterkopfpeerings/{self._name}"
            try:
                return [await self._api._call("GET", path)]
            except ApiException as exc:
                if exc.status == 404:
                    return []
                raise
        listing = await self._api._call("GET", "/apis/kopf.dev/v1/kopfpeerings")
        return [
            item
            for item in listing.get("items", [])
            if item["metadata"]["name"] == self._name
            and in_scope(item["metadata"]["namespace"], self._namespaces)
        ]
