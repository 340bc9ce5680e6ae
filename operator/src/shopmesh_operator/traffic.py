"""How a canary gets its share of the traffic: one small Protocol, two routers.

- `istio`: the VirtualService splits requests between the DestinationRule's `stable` and
  `canary` subsets (pods told apart by the `shopmesh.io/track` label) at exactly the
  weight; the canary runs ceil(weight% of the stable size) pods, at least one.
- `replicas`: no mesh; both tracks sit behind the one Service, which spreads requests
  over pods, so the canary gets the share of pods that comes closest to the weight
  without outgrowing the stable side: round(S * w / (100 - w)) pods beside S stable
  ones, at least one and at most S. Shares above 50% are therefore capped at 50% until
  promotion (Argo Rollouts scales the stable side down instead; here the stable side is
  the HPA's and is never scaled away mid-release).
In both the stable side keeps the size its HPA (or the spec) gives it, and the canary
follows that size. `router_for` picks the one the spec asks for: istio when mesh mTLS
is on, else replicas, unless `rollout.canary.trafficRouting` says. Used by canary.py.
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

    def route(self, virtual_service: dict[str, Any], weight: int) -> dict[str, Any]:
        """The VirtualService that gives the canary `weight` percent."""


class IstioRouter:
    name = "istio"

    def canary_replicas(self, weight: int, stable_replicas: int) -> int:
        if weight <= 0:
            return 0
        return max(1, math.ceil(max(stable_replicas, 1) * weight / 100))

    def share(self, weight: int, canary_replicas: int, stable_replicas: int) -> float:
        return float(weight) if canary_replicas else 0.0

    def route(self, virtual_service: dict[str, Any], weight: int) -> dict[str, Any]:
        routes = []
        for http in virtual_service["spec"]["http"]:
            destination = http["route"][0]["destination"]
            stable = {**destination, "subset": c.TRACK_STABLE}
            split = [{"destination": stable, "weight": 100 - weight}]
            if weight > 0:
                split.append(
                    {"destination": {**destination, "subset": c.TRACK_CANARY}, "weight": weight}
                )
            routes.append({**http, "route": split})
        return {**virtual_service, "spec": {**virtual_service["spec"], "http": routes}}


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

    def route(self, virtual_service: dict[str, Any], weight: int) -> dict[str, Any]:
        """In a mesh too, the route must not pin the stable subset while a canary runs:
        it goes to the host, whose pods of both tracks share the requests."""
        if weight <= 0:
            return virtual_service
        routes = []
        for http in virtual_service["spec"]["http"]:
            destination = {
                k: v for k, v in http["route"][0]["destination"].items() if k != "subset"
            }
            routes.append({**http, "route": [{"destination": destination, "weight": 100}]})
        return {**virtual_service, "spec": {**virtual_service["spec"], "http": routes}}


ROUTERS: dict[str, TrafficRouter] = {"istio": IstioRouter(), "replicas": ReplicasRouter()}


def router_for(ms: Microservice) -> TrafficRouter:
    canary = ms.spec.rollout.canary
    chosen = canary.traffic_routing if canary else None
    if chosen is None:
        chosen = "istio" if ms.spec.mesh.mtls != "DISABLE" else "replicas"
    return ROUTERS[chosen]
