"""An in-memory `apply.ClusterApi` for the reconcile and resync unit tests.

Objects are stored by (apiVersion, kind, namespace, name). Every write call is
counted, including one that fails, because each is a request to the API server.

`apply` is a small model of server-side apply, just enough for the hand-over of
a Deployment's replicas to an HPA. Ownership is kept two levels deep: a field
manager owns the top-level keys of its manifest and the direct children of
`metadata` and `spec`, recorded in `metadata.managedFields` (operation Apply,
the API server's `f:` notation). An apply replaces the object with the manifest
and keeps only the fields that other managers own and this manifest leaves out.
The fields it sets move to its manager (apply is forced), or are shared when
both managers applied the same value. As on a real server, a Deployment that no
manager gives `replicas` any more is defaulted back to 1. Deployments also get a
status saying every replica is up, as a healthy cluster would shortly after;
a test that wants a stuck rollout edits that status and puts the pods (and the
kubelet's Events about them) in `pods` and `pod_events`, which the two list
calls filter as the API server would (label selector; kind, name and reason).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shopmesh_operator import constants as c
from shopmesh_operator.apply import RESOURCES, ApplyError, StaleStatus
from shopmesh_operator.models import ObjectRef

Key = tuple[str, str, str, str]
#: (top-level key,) or (top-level key, child key): what a field manager owns.
FieldPath = tuple[str, ...]

API_VERSIONS = {kind: api_version for (api_version, kind) in RESOURCES}
_UNOWNED = {("apiVersion",), ("kind",), ("status",), ("metadata", "name")}
_UNOWNED |= {("metadata", "namespace"), ("metadata", "managedFields")}
_UNOWNED |= {("metadata", "generation"), ("metadata", "resourceVersion")}


@dataclass(frozen=True)
class Event:
    type: str
    reason: str
    message: str


@dataclass(frozen=True)
class Apply:
    """One successful apply call, as the fake received it."""

    kind: str
    field_manager: str
    manifest: dict[str, Any]


@dataclass
class FakeCluster:
    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    applies: list[Apply] = field(default_factory=list)
    reads: list[Key] = field(default_factory=list)
    #: kind -> the error `apply` raises for it
    refuse: dict[str, ApplyError] = field(default_factory=dict)
    writes: int = 0
    deleted: list[Key] = field(default_factory=list)
    #: the namespace of each list_microservices call (None: the whole cluster)
    lists: list[str | None] = field(default_factory=list)
    #: what the kubelet and the scheduler keep: pods, and the Events about them
    pods: list[dict[str, Any]] = field(default_factory=list)
    pod_events: list[dict[str, Any]] = field(default_factory=list)
    #: the selector of each list_pods call, and the pod of each list_pod_events call
    pod_lists: list[dict[str, str]] = field(default_factory=list)
    event_lists: list[str] = field(default_factory=list)
    #: False: a Deployment's new pods never become ready (its old ones keep serving)
    pods_become_ready: bool = True
    #: what the Deployment controller keeps: a Deployment's revisions
    replica_sets: list[dict[str, Any]] = field(default_factory=list)
    replica_set_lists: list[dict[str, str]] = field(default_factory=list)
    #: the error list_pods and list_pod_events raise (None: they answer)
    refuse_pod_reads: ApplyError | None = None
    #: The next status write is refused as stale (409) after a twin (a second operator
    #: replica acting in the same moment) wrote the very same status first
    twin_writes_first: bool = False

    # -- test helpers: not part of ClusterApi, never counted --

    @property
    def applied(self) -> list[str]:
        """The kinds applied, in order."""
        return [call.kind for call in self.applies]

    def put(self, obj: dict[str, Any]) -> None:
        self.objects[_key(obj)] = copy.deepcopy(obj)

    def child(self, kind: str, name: str = "cart", namespace: str = "shop") -> dict[str, Any]:
        return self.objects[(API_VERSIONS[kind], kind, namespace, name)]

    def microservice(self, name: str = "cart", namespace: str = "shop") -> dict[str, Any]:
        return self.objects[(c.API_VERSION, c.KIND, namespace, name)]

    def children(self) -> dict[Key, dict[str, Any]]:
        """A snapshot of every stored object except the Microservices."""
        return {k: copy.deepcopy(obj) for k, obj in self.objects.items() if k[1] != c.KIND}

    def bump_generation(self, name: str = "cart", namespace: str = "shop", **spec: Any) -> None:
        """Edit the Microservice's spec the way the API server records a user's edit."""
        body = self.microservice(name, namespace)
        body["metadata"]["generation"] += 1
        body["spec"].update(spec)

    def forget_writes(self) -> None:
        self.writes = 0
        self.events.clear()
        self.statuses.clear()
        self.applies.clear()
        self.deleted.clear()

    # -- ClusterApi --

    async def get(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> dict[str, Any] | None:
        key = (api_version, kind, namespace, name)
        self.reads.append(key)
        found = self.objects.get(key)
        return copy.deepcopy(found) if found is not None else None

    async def list_microservices(self, namespace: str | None = None) -> list[tuple[str, str]]:
        self.lists.append(namespace)
        return [
            (ns, name)
            for (_, kind, ns, name) in self.objects
            if kind == c.KIND and namespace in (None, ns)
        ]

    async def list_pods(self, namespace: str, selector: Mapping[str, str]) -> list[dict[str, Any]]:
        self.pod_lists.append(dict(selector))
        if self.refuse_pod_reads is not None:
            raise self.refuse_pod_reads
        return [
            copy.deepcopy(pod)
            for pod in self.pods
            if pod["metadata"]["namespace"] == namespace
            and selector.items() <= pod["metadata"].get("labels", {}).items()
        ]

    async def list_replica_sets(
        self, namespace: str, selector: Mapping[str, str]
    ) -> list[dict[str, Any]]:
        self.replica_set_lists.append(dict(selector))
        return [
            copy.deepcopy(rs)
            for rs in self.replica_sets
            if rs["metadata"]["namespace"] == namespace
            and selector.items() <= rs["metadata"].get("labels", {}).items()
        ]

    async def list_pod_events(
        self, namespace: str, pod: str, *, reason: str
    ) -> list[dict[str, Any]]:
        self.event_lists.append(pod)
        if self.refuse_pod_reads is not None:
            raise self.refuse_pod_reads
        return [
            copy.deepcopy(event)
            for event in self.pod_events
            if event["metadata"]["namespace"] == namespace
            and event["involvedObject"].get("kind") == "Pod"
            and event["involvedObject"].get("name") == pod
            and event["reason"] == reason
        ]

    async def apply(
        self, manifest: dict[str, Any], *, field_manager: str = c.FIELD_MANAGER
    ) -> dict[str, Any]:
        self.writes += 1
        if manifest["kind"] in self.refuse:
            raise self.refuse[manifest["kind"]]
        self.applies.append(Apply(manifest["kind"], field_manager, copy.deepcopy(manifest)))
        previous = self.objects.get(_key(manifest))
        stored = _server_side_apply(previous, manifest, field_manager)
        if manifest["kind"] == "Deployment":
            _run_deployment(stored, previous, ready=self.pods_become_ready)
        self.objects[_key(manifest)] = stored
        return copy.deepcopy(stored)

    async def delete(self, api_version: str, kind: str, namespace: str, name: str) -> None:
        self.writes += 1
        self.deleted.append((api_version, kind, namespace, name))
        self.objects.pop((api_version, kind, namespace, name), None)

    async def patch_status(
        self, ref: ObjectRef, status: dict[str, Any], *, resource_version: str | None = None
    ) -> None:
        body = self.objects.get((c.API_VERSION, c.KIND, ref.namespace, ref.name))
        if self.twin_writes_first and body is not None:
            self.twin_writes_first = False
            body["status"] = _merge_patch(body.get("status", {}), status)
            raise StaleStatus(f"{ref.namespace}/{ref.name} changed since it was read")
        self.writes += 1
        self.statuses.append(copy.deepcopy(status))
        if body is not None:
            body["status"] = _merge_patch(body.get("status", {}), status)

    async def post_event(self, ref: ObjectRef, *, type_: str, reason: str, message: str) -> None:
        self.writes += 1
        self.events.append(Event(type_, reason, message))


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386, as the API server applies application/merge-patch+json: objects merge
    key by key, null deletes a key, anything else (lists too) replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = _merge_patch(merged.get(key), value)
    return merged


def owned_paths(obj: dict[str, Any]) -> set[FieldPath]:
    """The field paths an apply of `obj` claims (two levels deep)."""
    paths: set[FieldPath] = set()
    for top, value in obj.items():
        if isinstance(value, dict) and top in ("metadata", "spec"):
            paths |= {(top, sub) for sub in value}
        else:
            paths.add((top,))
    return paths - _UNOWNED


def managed_fields(manager: str, paths: set[FieldPath]) -> dict[str, Any]:
    """A managedFields entry in the API server's format."""
    fields: dict[str, Any] = {}
    for path in sorted(paths):
        node = fields
        for step in path:
            node = node.setdefault(f"f:{step}", {})
    return {"manager": manager, "operation": "Apply", "fieldsV1": fields}


def _entry_paths(entry: dict[str, Any]) -> set[FieldPath]:
    paths: set[FieldPath] = set()
    for top, children in entry.get("fieldsV1", {}).items():
        if children:
            paths |= {(top[2:], sub[2:]) for sub in children}
        else:
            paths.add((top[2:],))
    return paths


def _server_side_apply(
    previous: dict[str, Any] | None, manifest: dict[str, Any], manager: str
) -> dict[str, Any]:
    stored = copy.deepcopy(manifest)
    claimed = owned_paths(manifest)
    entries: list[dict[str, Any]] = []
    for entry in (previous or {}).get("metadata", {}).get("managedFields", []):
        if entry["manager"] == manager:
            continue
        kept: set[FieldPath] = set()
        for path in _entry_paths(entry):
            if path not in claimed:
                _copy_path(previous, stored, path)
                kept.add(path)
            elif _lookup(stored, path) == _lookup(previous, path):
                kept.add(path)  # the same value applied by two managers: shared ownership
        if kept:
            entries.append(managed_fields(entry["manager"], kept))
    entries.append(managed_fields(manager, claimed))
    for server_field in ("generation", "resourceVersion"):
        if previous and server_field in previous["metadata"]:
            stored["metadata"][server_field] = previous["metadata"][server_field]
    stored["metadata"]["managedFields"] = entries
    return stored


def _lookup(obj: dict[str, Any] | None, path: FieldPath) -> Any:
    node: Any = obj
    for step in path:
        node = node.get(step) if isinstance(node, dict) else None
    return node


def _copy_path(source: dict[str, Any] | None, target: dict[str, Any], path: FieldPath) -> None:
    value = _lookup(source, path)
    if value is None:
        return
    for step in path[:-1]:
        target = target.setdefault(step, {})
    target[path[-1]] = copy.deepcopy(value)


def _run_deployment(
    stored: dict[str, Any], previous: dict[str, Any] | None, *, ready: bool
) -> None:
    """What the API server and the controller do: default, bump generation, report
    (every replica up, or, when not `ready`, the new ones not ready beside the old)."""
    spec = stored.setdefault("spec", {})
    spec.setdefault("replicas", 1)
    generation = (previous or {}).get("metadata", {}).get("generation", 0) + 1
    stored["metadata"]["generation"] = generation
    replicas = spec["replicas"]
    stored["status"] = {
        "observedGeneration": generation,
        "replicas": replicas if ready else replicas + 1,
        "updatedReplicas": replicas if ready else 1,
        "readyReplicas": replicas,
        "availableReplicas": replicas,
    }


def _key(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])


def service_account_body(name: str, namespace: str = "shop") -> dict[str, Any]:
    """A ServiceAccount someone else created (an allowed caller, say)."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": name, "namespace": namespace},
    }


def microservice_body(
    *,
    name: str = "cart",
    namespace: str = "shop",
    generation: int = 1,
    spec: dict[str, Any] | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"uid-{namespace}-{name}",
            "generation": generation,
            **metadata,
        },
        "spec": spec if spec is not None else {"image": "shopmesh/cart:1.0", "replicas": 2},
    }
