"""An in-memory `apply.ClusterApi` for the reconcile and resync unit tests.

Objects are stored by (apiVersion, kind, namespace, name). `apply` stores the
manifest as given (the whole object is ours in these tests, so storing it is the
merge) and gives Deployments a status that says every replica is up, as a
healthy cluster would shortly after. Every write call is counted, including one
that fails, because each is a request to the API server.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from shopmesh_operator import constants as c
from shopmesh_operator.apply import ApplyError
from shopmesh_operator.models import ObjectRef

Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class Event:
    type: str
    reason: str
    message: str


@dataclass
class FakeCluster:
    objects: dict[Key, dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    statuses: list[dict[str, Any]] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    reads: list[Key] = field(default_factory=list)
    #: kind -> the error `apply` raises for it
    refuse: dict[str, ApplyError] = field(default_factory=dict)
    writes: int = 0

    # -- test helpers: not part of ClusterApi, never counted --

    def put(self, obj: dict[str, Any]) -> None:
        self.objects[_key(obj)] = copy.deepcopy(obj)

    def child(self, kind: str, name: str = "cart", namespace: str = "shop") -> dict[str, Any]:
        api_version = "apps/v1" if kind == "Deployment" else "v1"
        return self.objects[(api_version, kind, namespace, name)]

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
        self.applied.clear()

    # -- ClusterApi --

    async def get(
        self, api_version: str, kind: str, namespace: str, name: str
    ) -> dict[str, Any] | None:
        key = (api_version, kind, namespace, name)
        self.reads.append(key)
        found = self.objects.get(key)
        return copy.deepcopy(found) if found is not None else None

    async def list_microservices(self) -> list[tuple[str, str]]:
        return [(ns, name) for (_, kind, ns, name) in self.objects if kind == c.KIND]

    async def apply(self, manifest: dict[str, Any]) -> dict[str, Any]:
        self.writes += 1
        if manifest["kind"] in self.refuse:
            raise self.refuse[manifest["kind"]]
        self.applied.append(manifest["kind"])
        stored = copy.deepcopy(manifest)
        if manifest["kind"] == "Deployment":
            previous = self.objects.get(_key(manifest), {})
            generation = previous.get("metadata", {}).get("generation", 0) + 1
            stored["metadata"]["generation"] = generation
            replicas = manifest["spec"]["replicas"]
            stored["status"] = {
                "observedGeneration": generation,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
            }
        self.objects[_key(manifest)] = stored
        return copy.deepcopy(stored)

    async def patch_status(self, ref: ObjectRef, status: dict[str, Any]) -> None:
        self.writes += 1
        self.statuses.append(copy.deepcopy(status))
        body = self.objects.get((c.API_VERSION, c.KIND, ref.namespace, ref.name))
        if body is not None:  # a JSON merge patch: top-level keys replaced, lists whole
            body["status"] = {**body.get("status", {}), **copy.deepcopy(status)}

    async def post_event(self, ref: ObjectRef, *, type_: str, reason: str, message: str) -> None:
        self.writes += 1
        self.events.append(Event(type_, reason, message))


def _key(obj: dict[str, Any]) -> Key:
    meta = obj["metadata"]
    return (obj["apiVersion"], obj["kind"], meta["namespace"], meta["name"])


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
