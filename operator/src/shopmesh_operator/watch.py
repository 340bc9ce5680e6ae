"""Watches on the operator's children, filtered by the API server, that wake the
owning Microservice's reconcile: how drift is repaired within a second and how
status follows the Deployment. Pods are watched the same way (they carry the
managed-by label from the pod template): a pod that cannot pull its image or
keeps crashing changes nothing in its Deployment, yet the status must say why
within seconds. A watch on ServiceAccounts wakes Microservices that wait on an
allowed caller which has just been created, and a one-second tick wakes those
whose re-check time has come (requeue.py: a readiness grace running out).

Why not kopf handlers: kopf filters labels on the client and keeps a per-object
memory for every object of every watched kind in the whole cluster (about 2 KB
each: ~25 MB at a thousand Microservices with ten children each), and it sees
every Service and Deployment of every other application. Here the API server
filters by `app.kubernetes.io/managed-by=shopmesh-operator` and nothing is kept
per object. Each stream lists once for a resourceVersion, then watches with
bookmarks, and starts again from a fresh list on 410 Gone or a broken stream.
Started and stopped by handlers/lifecycle.py; events are handed to the operator's
`Reconciler.request` (reconcile.py), which coalesces bursts.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp

from shopmesh_operator import constants as c
from shopmesh_operator.apply import RESOURCES, ApiException, KubeApi, collection_path
from shopmesh_operator.reconcile import Reconciler
from shopmesh_operator.scope import in_scope

log = logging.getLogger(__name__)

Ref = tuple[str, str]
MANAGED_SELECTOR = f"{c.LABEL_MANAGED_BY}={c.MANAGED_BY}"
#: The pods of every Deployment the operator renders, cluster-wide (same label selector).
PODS_PATH = "/api/v1/pods"
WATCH_SECONDS = 290
BACKOFF_SECONDS = 2.0
RECHECK_TICK_SECONDS = 1.0


def child_paths() -> list[str]:
    """The cluster-wide collection path of every kind render produces."""
    return [
        collection_path(api_version, kind) for (api_version, kind) in RESOURCES if kind != c.KIND
    ]


def owner_of(obj: dict[str, Any], namespaces: Sequence[str]) -> Ref | None:
    """The Microservice a managed child belongs to, if it is in the operator's scope."""
    meta = obj.get("metadata", {})
    owner = (meta.get("labels") or {}).get(c.LABEL_MICROSERVICE)
    namespace = meta.get("namespace")
    if not owner or not namespace or not in_scope(namespace, namespaces):
        return None
    return (namespace, owner)


class Watcher:
    """One task per watched collection; each owner to reconcile goes to `reconciler`."""

    def __init__(
        self,
        api: KubeApi,
        reconciler: Reconciler,
        *,
        namespaces: Sequence[str] = (),
        active: Callable[[], Awaitable[bool]] | None = None,
    ) -> None:
        self._api = api
        self._reconciler = reconciler
        self._active = active
        self._namespaces = tuple(namespaces)
        self._tasks: list[asyncio.Task[None]] = []
        self._pending: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        for path in [*child_paths(), PODS_PATH]:
            self._tasks.append(
                asyncio.create_task(self._stream(path, MANAGED_SELECTOR, self._child))
            )
        self._tasks.append(
            asyncio.create_task(self._stream("/api/v1/serviceaccounts", None, self._account))
        )
        self._tasks.append(asyncio.create_task(self._recheck_due()))

    async def stop(self) -> None:
        for task in [*self._tasks, *self._pending]:
            task.cancel()
        await asyncio.gather(*self._tasks, *self._pending, return_exceptions=True)

    def _child(self, event_type: str, obj: dict[str, Any]) -> None:
        ref = owner_of(obj, self._namespaces)
        if ref is not None:
            self._spawn(ref)

    def _account(self, event_type: str, obj: dict[str, Any]) -> None:
        """A ServiceAccount just created wakes the Microservices waiting on it."""
        meta = obj.get("metadata", {})
        if event_type != "ADDED" or not meta.get("namespace"):
            return
        for ref in self._reconciler.callers.take(meta["namespace"], meta["name"]):
            if in_scope(ref[0], self._namespaces):
                self._spawn(ref)

    async def _recheck_due(self) -> None:
        while True:
            await asyncio.sleep(RECHECK_TICK_SECONDS)
            for ref in self._reconciler.requeue.take_due():
                if in_scope(ref[0], self._namespaces):
                    self._spawn(ref)

    def _spawn(self, ref: Ref) -> None:
        task = asyncio.create_task(self._run_wake(ref))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _run_wake(self, ref: Ref) -> None:
        try:
            if self._active is not None and not await self._active():
                return  # a standby replica: the active one handles it
            await self._reconciler.request(*ref)
        except Exception as err:  # one failed pass must not end the watch; resync retries
            log.warning("reconcile of %s/%s after a child event failed: %s", *ref, err)

    async def _stream(
        self, path: str, selector: str | None, handle: Callable[[str, dict[str, Any]], None]
    ) -> None:
        version: str | None = None
        while True:
            try:
                if version is None:
                    version = await self._list_version(path, selector)
                version = await self._watch(path, selector, version, handle)
            except (aiohttp.ClientError, TimeoutError, ApiException, ValueError) as err:
                log.info("watch on %s broke (%s); starting again", path, err)
                version = None
                await asyncio.sleep(BACKOFF_SECONDS)

    async def _list_version(self, path: str, selector: str | None) -> str:
        query = [("limit", "1")] + ([("labelSelector", selector)] if selector else [])
        listing = await self._api._call("GET", path, query=query)
        return str(listing["metadata"]["resourceVersion"])

    async def _watch(
        self,
        path: str,
        selector: str | None,
        version: str,
        handle: Callable[[str, dict[str, Any]], None],
    ) -> str | None:
        """Stream events until the server closes the watch; the version to go on from."""
        query = {
            "watch": "true",
            "resourceVersion": version,
            "allowWatchBookmarks": "true",
            "timeoutSeconds": str(WATCH_SECONDS),
        }
        if selector:
            query["labelSelector"] = selector
        conn = self._api._conn
        timeout = aiohttp.ClientTimeout(total=None, sock_read=WATCH_SECONDS + 30)
        async with conn.session.get(
            conn.server + path, params=query, headers=conn.headers(), timeout=timeout
        ) as response:
            if response.status == 410:
                return None
            if response.status != 200:
                raise ApiException(status=response.status, body=await response.text())
            buffer = b""
            async for chunk in response.content.iter_any():
                buffer += chunk
                while b"\n" in buffer:
                    line, buffer = buffer.split(b"\n", 1)
                    if not line.strip():
                        continue
                    event = json.loads(line)
                    obj = event.get("object", {})
                    if event.get("type") == "ERROR":
                        return None  # 410 Gone and friends: list again
                    version = obj.get("metadata", {}).get("resourceVersion", version)
                    if event.get("type") != "BOOKMARK":
                        handle(event["type"], obj)
        return version
