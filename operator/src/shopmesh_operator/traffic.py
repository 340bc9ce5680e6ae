"""How a release's new version gets its share of the traffic: one small Protocol, three
routers.

- `istio`: the VirtualService splits requests between the DestinationRule's `stable` and
  `canary` subsets (pods told apart by the `shopmesh.io/track` label) at exactly the
  weight; the canary runs ceil(weight% of the stable size) pods, at least one.
- `replicas`: no mesh; both tracks sit behind the one Service, which spreads requests
  over pods, so the canary gets the share of pods that comes closest to the weight
  without outgrowing the stable side: round(S * w / (100 - w)) pods beside S stable
  ones, at least one and at most S. Shares above 50% are therefore capped at 50% until
  promotion (Argo Rollouts scales the stable side down instead; here the stable side is
  the HPA's and is never scaled away mid-release).
- `blue-green` (the BlueGreen strategy): the preview runs as many pods as the stable
  side; at weight 0 the `<name>` Service selects the stable track, at 100 the preview
  track, so the switch is one update of one selector, in a mesh too (the VirtualService
  then routes to the host, not to the stable subset).
In all of them the stable side keeps the size its HPA (or the spec) gives it, and the
canary follows that size. `router_for` picks the one the spec asks for: blue-green for
BlueGreen; for Canary istio when mesh mTLS is on, else replicas, unless
`rollout.canary.trafficRouting` says. Used by canary.py and plan.py.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from shopmesh_operator import constants as c
from shopmesh_operator.models import Microservice


class TrafficRouter(Protocol):
    name: str

    def canary_replicas(self, weight: int, stable_replicas: int) -> int:
        """How many canary pods `weight` percent needs beside `stable_replicas`."""

    def share(self, weight: int, canary_replicas: int, stable_replicas: int) -> float:
        """The percentage of requests the canary actually gets."""

    def route(self, manifest: dict[str, Any], weight: int) -> dict[str, Any]:
        """The child (the VirtualService, or the Service) as it must be to give the
        canary `weight` percent; any other child as it is."""


class IstioRouter:
    name = "istio"

    def canary_replicas(self, weight: int, stable_replicas: int) -> int:
        if weight <= 0:
            return 0
        return max(1, math.ceil(max(stable_replicas, 1) * weight / 100))

    def share(self, weight: int, canary_replicas: int, stable_replicas: int) -> float:
        return float(weight) if canary_replicas else 0.0

    def route(self, manifest: dict[str, Any], weight: int) -> dict[str, Any]:
        if manifest["kind"] != "VirtualService":
            return manifest
        routes = []
        for http in manifest["spec"]["http"]:
            destination = http["route"][0]["destination"]
            stable = {**destination, "subset": c.TRACK_STABLE}
            split = [{"destination": stable, "weight": 100 - weight}]
            if weight > 0:
                split.append(
                    {"destination": {**destination, "subset": c.TRACK_CANARY}, "weight": weight}
                )
            routes.append({**http, "route": split})
        return {**manifest, "spec": {**manifest["spec"], "http": routes}}


class ReplicasRouter:
    name = "replicas"

    def canary_replicas(self, weight: int, stable_replicas: int) -> int:
        if weight <= 0:
            return 0
        stable = max(stable_replicas, 1)
        if weight >= 100:
            return stable
        return min(stable, max(1, round(stable * weight / (100 - weight))))

    def share(self, weight: int, canary_replicas: int, stable_replicas: int) -> float:
        total = canary_replicas + stable_replicas
        return 100.0 * canary_replicas / total if total else 0.0

    def route(self, manifest: dict[str, Any], weight: int) -> dict[str, Any]:
        """In a mesh too, the route must not pin the stable subset while a canary runs:
        it goes to the host, whose pods of both tracks share the requests."""
        if manifest["kind"] != "VirtualService" or weight <= 0:
            return manifest
        return _unpinned(manifest)


class BlueGreenRouter:
    name = "blue-green"

    def canary_replicas(self, weight: int, stable_replicas: int) -> int:
        return max(stable_replicas, 1)

    def share(self, weight: int, canary_replicas: int, stable_replicas: int) -> float:
        return 100.0 if weight >= 100 else 0.0

    def route(self, manifest: dict[str, Any], weight: int) -> dict[str, Any]:
        if weight < 100:
            return manifest
        if manifest["kind"] == "VirtualService":
            return _unpinned(manifest)
        selector = manifest["spec"].get("selector") or {}
        if manifest["kind"] != "Service" or selector.get(c.LABEL_TRACK) != c.TRACK_STABLE:
            return manifest  # the preview Service keeps its selector
        selector = {**selector, c.LABEL_TRACK: c.TRACK_PREVIEW}
        return {**manifest, "spec": {**manifest["spec"], "selector": selector}}


def _unpinned(virtual_service: dict[str, Any]) -> dict[str, Any]:
    """The VirtualService routing to the host, whichever track its Service selects."""
    routes = []
    for http in virtual_service["spec"]["http"]:
        destination = {k: v for k, v in http["route"][0]["destination"].items() if k != "subset"}
        routes.append({**http, "route": [{"destination": destination, "weight": 100}]})
    return {**virtual_service, "spec": {**virtual_service["spec"], "http": routes}}


ROUTERS: dict[str, TrafficRouter] = {
    "istio": IstioRouter(),
    "replicas": ReplicasRouter(),
    "blue-green": BlueGreenRouter(),
}


def router_for(ms: Microservice) -> TrafficRouter:
    if ms.spec.rollout.strategy == "BlueGreen":
        return ROUTERS["blue-green"]
    canary = ms.spec.rollout.canary
    chosen = canary.traffic_routing if canary else None
    if chosen is None:
        chosen = "istio" if ms.spec.mesh.mtls != "DISABLE" else "replicas"
    return ROUTERS[chosen]
