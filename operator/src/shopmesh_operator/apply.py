"""The only module that writes to the Kubernetes API.

Children are written with server-side apply under one field manager
(`constants.FIELD_MANAGER`), forcing conflicts: the operator owns exactly the
fields it renders and never touches the rest. Status goes to the `/status`
subresource as a merge patch; Events are core/v1 Events, which `kubectl
describe msvc` shows.

A small static table maps each rendered kind to its REST path. We render a
known, closed set of kinds, so discovery round trips (and the memory of a
discovery cache) buy nothing here. Besides the children it reads the pods of a
Microservice that is not Ready and their Events (see pods.py), and a Deployment's
ReplicaSets when a release must be rolled back or was undone (rolling.py). Used by
reconcile.py through the `ClusterApi` protocol, which unit tests replace with an
in-memory fake.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

import aiohttp

from shopmesh_operator import constants as c
from shopmesh_operator.connection import Connection, connect
from shopmesh_operator.metrics import API_REQUESTS
from shopmesh_operator.models import ObjectRef
from shopmesh_operator.status import now_iso

log = logging.getLogger(__name__)

#: (apiVersion, kind) -> plural resource name, for every kind render produces.
RESOURCES: dict[tuple[str, str], str] = {
    ("v1", "ServiceAccount"): "serviceaccounts",
    ("v1", "Service"): "services",
    ("apps/v1", "Deployment"): "deployments",
    ("autoscaling/v2", "HorizontalPodAutoscaler"): "horizontalpodautoscalers",
    ("policy/v1", "PodDisruptionBudget"): "poddisruptionbudgets",
    ("security.istio.io/v1", "PeerAuthentication"): "peerauthentications",
    ("security.istio.io/v1", "AuthorizationPolicy"): "authorizationpolicies",
    ("networking.istio.io/v1", "DestinationRule"): "destinationrules",
    ("networking.istio.io/v1", "VirtualService"): "virtualservices",
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "servicemonitors",
    (c.API_VERSION, c.KIND): c.PLURAL,
}


class ApiException(Exception):
    """A non-2xx answer from the API server (status 0: no answer at all)."""

    def __init__(self, *, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:200]}")
        self.status = status
        self.body = body


class ApplyError(Exception):
    """The API server refused a child: `reason` and `message` go into a condition."""

    def __init__(self, *, reason: str, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.retryable = retryable


class StaleStatus(Exception):
    """The Microservice changed after this pass read it: the status write was refused
    (409), so another writer (a second operator replica in a split moment, a user's
    `kubectl shopmesh` command) went first. The pass is done again from a fresh read."""


class ClusterApi(Protocol):
    """What reconcile needs from the cluster; `KubeApi` is the real one."""

    async def get(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> dict[str, Any] | None: ...
    async def list_microservices(self, namespace: str | None = None) -> list[tuple[str, str]]: ...
    async def list_pods(
        self, namespace: str, selector: Mapping[str, str]
    ) -> list[dict[str, Any]]: ...
    async def list_pod_events(
        self, namespace: str, pod: str, *, reason: str
    ) -> list[dict[str, Any]]: ...
    async def list_replica_sets(
        self, namespace: str, selector: Mapping[str, str]
    ) -> list[dict[str, Any]]: ...
    async def apply(
        self, manifest: dict[str, Any], *, field_manager: str = c.FIELD_MANAGER
    ) -> dict[str, Any]: ...
    async def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None: ...
    async def patch_status(
        self, ref: ObjectRef, status: dict[str, Any], *, resource_version: str | None = None
    ) -> None: ...
    async def post_event(
        self, ref: ObjectRef, *, type_: str, reason: str, message: str
    ) -> None: ...


def collection_path(api_version: str, kind: str, namespace: str | None = None) -> str:
    """The REST path of a kind's collection, in one namespace or cluster-wide."""
    prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    scope = f"/namespaces/{namespace}" if namespace else ""
    return f"{prefix}{scope}/{RESOURCES[(api_version, kind)]}"


def resource_path(api_version: str, kind: str, namespace: str, name: str | None = None) -> str:
    path = collection_path(api_version, kind, namespace)
    return f"{path}/{name}" if name else path


class KubeApi:
    """`ClusterApi` over aiohttp (see connection.py); counts its write calls."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection
        self.writes = 0

    @classmethod
    async def connect(cls) -> KubeApi:
        return cls(await connect())

    async def close(self) -> None:
        await self._conn.session.close()

    async def _call(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        content_type: str = "application/json",
        query: list[tuple[str, str]] | None = None,
    ) -> dict[str, Any]:
        if method != "GET":
            self.writes += 1
        API_REQUESTS.labels(verb=method).inc()
        headers = {"Accept": "application/json", **self._conn.headers()}
        data = None
        if body is not None:
            headers["Content-Type"] = content_type
            data = json.dumps(body)
        try:
            async with self._conn.session.request(
                method, self._conn.server + path, params=query or None, data=data, headers=headers
            ) as response:
                raw = await response.read()
                status = response.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ApiException(status=0, body=f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= status <= 299:
            raise ApiException(status=status, body=raw.decode(errors="replace")[:4000])
        return dict(json.loads(raw)) if raw else {}

    async def get(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> dict[str, Any] | None:
        try:
            return await self._call("GET", resource_path(api_version, kind, namespace, name))
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise _as_apply_error(exc, f"{kind} {namespace}/{name}") from exc

    async def list_microservices(self, namespace: str | None = None) -> list[tuple[str, str]]:
        """(namespace, name) of every Microservice, in one namespace or the whole cluster."""
        path = collection_path(c.API_VERSION, c.KIND, namespace)
        return [
            (item["metadata"]["namespace"], item["metadata"]["name"])
            for item in await self._list(path, [], "list of Microservices")
        ]

    async def list_pods(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        """The pods in `namespace` that carry every label of `selector`."""
        labels = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
        path = f"/api/v1/namespaces/{namespace}/pods"
        return await self._list(path, [("labelSelector", labels)], f"pods in {namespace}")

    async def list_replica_sets(
        self, namespace: str, selector: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        """The ReplicaSets in `namespace` that carry every label of `selector`: a
        Deployment's revisions, read to roll back or to recognise a rollout undo."""
        labels = ",".join(f"{key}={value}" for key, value in sorted(selector.items()))
        path = f"/apis/apps/v1/namespaces/{namespace}/replicasets"
        return await self._list(path, [("labelSelector", labels)], f"replicasets in {namespace}")

    async def list_pod_events(
        self, namespace: str, pod: str, *, reason: str
    ) -> list[dict[str, Any]]:
        """The Events about pod `namespace/pod` with `reason`, filtered by the API server."""
        fields = f"involvedObject.kind=Pod,involvedObject.name={pod},reason={reason}"
        path = f"/api/v1/namespaces/{namespace}/events"
        return await self._list(path, [("fieldSelector", fields)], f"events of pod {pod}")

    async def _list(
        self, path: str, query: list[tuple[str, str]], what: str
    ) -> list[dict[str, Any]]:
        try:
            listing = await self._call("GET", path, query=query)
        except ApiException as exc:
            raise _as_apply_error(exc, what) from exc
        return list(listing.get("items") or [])

    async def apply(
        self, manifest: dict[str, Any], *, field_manager: str = c.FIELD_MANAGER
    ) -> dict[str, Any]:
        """Server-side apply; if a hand edit made the merge invalid, replace our lists.

        Server-side apply merges list items by key, so a hand edit that changed a
        key (say, a Service port) leaves both the foreign item and ours, which the
        API then refuses (duplicate port name). A JSON merge patch replaces lists
        wholesale; after it, the apply succeeds and owns the fields again.
        """
        meta = manifest["metadata"]
        what = f"{manifest['kind']} {meta['namespace']}/{meta['name']}"
        path = resource_path(
            manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"]
        )
        try:
            return await self._server_side_apply(path, manifest, field_manager)
        except ApiException as exc:
            if exc.status != 422:
                raise _as_apply_error(exc, what) from exc
            first = exc
        try:
            await self._call(
                "PATCH", path, body=manifest, content_type="application/merge-patch+json"
            )
            return await self._server_side_apply(path, manifest, field_manager)
        except ApiException as exc:
            if exc.status == 404:  # it did not exist: the first error was about our manifest
                raise _as_apply_error(first, what) from first
            raise _as_apply_error(exc, what) from exc

    async def _server_side_apply(
        self, path: str, manifest: dict[str, Any], field_manager: str
    ) -> dict[str, Any]:
        return await self._call(
            "PATCH",
            path,
            body=manifest,
            content_type="application/apply-patch+yaml",
            query=[("fieldManager", field_manager), ("force", "true")],
        )

    async def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        """Delete a child the spec no longer asks for (gone already is fine)."""
        try:
            await self._call("DELETE", resource_path(api_version, kind, namespace, name))
        except ApiException as exc:
            if exc.status != 404:
                raise _as_apply_error(exc, f"{kind} {namespace}/{name}") from exc

    async def patch_status(
        self, ref: ObjectRef, status: dict[str, Any], *, resource_version: str | None = None
    ) -> None:
        """Merge `status` in; with `resource_version`, only if the object is still at it
        (optimistic concurrency: StaleStatus otherwise)."""
        path = resource_path(c.API_VERSION, c.KIND, ref.namespace, ref.name) + "/status"
        body: dict[str, Any] = {"status": status}
        if resource_version is not None:
            body["metadata"] = {"resourceVersion": resource_version}
        try:
            await self._call("PATCH", path, body=body, content_type="application/merge-patch+json")
        except ApiException as exc:
            if exc.status == 404:  # deleted meanwhile: nothing to report on
                return
            if exc.status == 409:
                raise StaleStatus(f"{ref.namespace}/{ref.name} changed since it was read") from exc
            raise _as_apply_error(exc, f"status of {ref.namespace}/{ref.name}") from exc

    async def post_event(self, ref: ObjectRef, *, type_: str, reason: str, message: str) -> None:
        stamp = now_iso()
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{ref.name}.", "namespace": ref.namespace},
            "involvedObject": {
                "apiVersion": c.API_VERSION,
                "kind": c.KIND,
                "name": ref.name,
                "namespace": ref.namespace,
                "uid": ref.uid,
            },
            "type": type_,
            "reason": reason,
            "message": message[:1024],
            "source": {"component": c.EVENT_SOURCE},
            "reportingComponent": c.EVENT_SOURCE,
            "reportingInstance": c.EVENT_SOURCE,
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
        }
        try:
            await self._call("POST", f"/api/v1/namespaces/{ref.namespace}/events", body=event)
        except ApiException as exc:  # an Event is best effort; never fail a reconcile on it
            log.warning(
                "could not post event %s on %s/%s: %s", reason, ref.namespace, ref.name, exc
            )


def _as_apply_error(exc: ApiException, what: str) -> ApplyError:
    message = exc.body or "error"
    with contextlib.suppress(TypeError, ValueError, AttributeError):
        message = json.loads(exc.body).get("message", message)
    status = exc.status or 0
    retryable = status == 0 or status >= 500 or status in (409, 429)
    reason = "Invalid" if status == 422 else ("Forbidden" if status == 403 else "ApiError")
    return ApplyError(reason=reason, message=f"{what}: {message}", retryable=retryable)
