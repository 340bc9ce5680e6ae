"""The safety net: every few minutes, list the Microservices and reconcile each.

Watch events drive nearly everything; this loop catches whatever a dropped watch
missed. It reads (one LIST, then each reconcile's GETs) and writes only what
drifted, so an idle cluster stays write-free. It runs as a plain task started
by handlers/lifecycle.py rather than a kopf timer, because kopf puts a
finalizer on objects with timers, which blocks deletion while the operator is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from shopmesh_operator.apply import ApplyError, ClusterApi
from shopmesh_operator.reconcile import InvalidSpec, Reconciler
from shopmesh_operator.scope import exact_namespaces, in_scope

log = logging.getLogger(__name__)


async def _list_in_scope(api: ClusterApi, namespaces: Sequence[str]) -> list[tuple[str, str]]:
    exact = exact_namespaces(namespaces)
    if exact is None:
        return await api.list_microservices()
    found: list[tuple[str, str]] = []
    for namespace in exact:
        found.extend(await api.list_microservices(namespace))
    return found


async def resync_once(reconciler: Reconciler, *, namespaces: Sequence[str] = ()) -> int:
    """Reconcile every Microservice in scope once; returns how many were visited."""
    visited = 0
    for namespace, name in await _list_in_scope(reconciler.api, namespaces):
        if not in_scope(namespace, namespaces):
            continue
        visited += 1
        try:
            await reconciler.request(namespace, name)
        except (ApplyError, InvalidSpec) as err:
            log.warning("resync of %s/%s failed: %s", namespace, name, err)
    return visited


async def resync_forever(
    reconciler: Reconciler,
    *,
    interval: float,
    namespaces: Sequence[str] = (),
    active: Callable[[], Awaitable[bool]] | None = None,
) -> None:
    while True:
        await asyncio.sleep(interval)
        if active is not None and not await active():
            continue  # a standby replica: the active one resyncs
        try:
            await resync_once(reconciler, namespaces=namespaces)
        except ApplyError as err:  # the API is unreachable now; try again next round
            log.warning("resync skipped: %s", err)
