"""A Microservice releasing with the Canary (or BlueGreen) strategy and the Deployments
the cluster shows it, for the release tests (pure and through reconcile)."""

from __future__ import annotations

import copy
from typing import Any

from shopmesh_operator.canary import CanaryPlan, CanarySeen, plan_canary
from shopmesh_operator.models import Measurement, Microservice
from shopmesh_operator.render import build_canary_deployment, build_deployment

from .fake_cluster import microservice_body

V1, V2, V3 = "shopmesh/cart:1.0", "shopmesh/cart:2.0", "shopmesh/cart:3.0"
T0 = "2026-12-03T10:00:00Z"

STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"pause": {"duration": "30s"}},
    {"analysis": {"measurements": 2}},
    {"setWeight": 50},
    {"pause": {}},
]
ANALYSIS: dict[str, Any] = {
    "interval": "10s",
    "failureLimit": 2,
    "minRequests": 10,
    "metrics": [{"name": "success-rate", "min": 99}, {"name": "latency-p99", "maxMs": 500}],
}


def canary_spec(image: str = V2, steps: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "image": image,
        "replicas": 2,
        "mesh": {"mtls": "DISABLE"},
        "rollout": {
            "strategy": "Canary",
            "canary": {"steps": steps if steps is not None else STEPS, "analysis": ANALYSIS},
        },
    }


def blue_green_spec(image: str = V2, **blue_green: Any) -> dict[str, Any]:
    spec = canary_spec(image)
    spec["rollout"] = {"strategy": "BlueGreen", "blueGreen": blue_green}
    return spec


def releasing(
    image: str = V2,
    *,
    generation: int = 2,
    observed: int | None = 1,
    rollout: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
    steps: list[dict[str, Any]] | None = None,
    spec: dict[str, Any] | None = None,
) -> Microservice:
    """shop/cart at `generation` asking for `image` (with `spec`, that spec; else a
    Canary one with `steps`); the last pass saw `observed`."""
    spec = spec if spec is not None else canary_spec(image, steps)
    body = microservice_body(generation=generation, spec=spec)
    if annotations:
        body["metadata"]["annotations"] = annotations
    status: dict[str, Any] = {"rollout": {"stableImage": V1, **(rollout or {})}}
    if observed is not None:
        status["observedGeneration"] = observed
    return Microservice.from_body({**body, "status": status})


def available(deployment: dict[str, Any], replicas: int | None = None) -> dict[str, Any]:
    """`deployment` as its controller reports it once every pod is available."""
    live = copy.deepcopy(deployment)
    count = replicas if replicas is not None else live["spec"].get("replicas", 1)
    live["spec"]["replicas"] = count
    live["metadata"]["generation"] = 1
    live["status"] = {
        "observedGeneration": 1,
        "replicas": count,
        "updatedReplicas": count,
        "readyReplicas": count,
        "availableReplicas": count,
    }
    return live


def stable_running(image: str = V1) -> dict[str, Any]:
    """The stable Deployment, every pod available, running `image`."""
    return available(build_deployment(releasing(image)))


def canary_running(replicas: int, image: str = V2) -> dict[str, Any]:
    return available(build_canary_deployment(releasing(image), replicas))


def image_of(deployment: dict[str, Any] | None) -> str:
    assert deployment is not None
    return str(deployment["spec"]["template"]["spec"]["containers"][0]["image"])


def at(seconds: int) -> str:
    """T0 plus `seconds`, as the status writes times."""
    return f"2026-12-03T10:{seconds // 60:02d}:{seconds % 60:02d}Z"


def plan_at(
    ms: Microservice,
    *,
    canary: dict[str, Any] | None = None,
    stable: dict[str, Any] | None = None,
    measurements: tuple[Measurement, ...] | None = None,
    now: int = 0,
) -> CanaryPlan:
    """The release's pure plan at T0 + `now`, with the stable Deployment running V1 (unless
    `stable`), the canary or preview Deployment `canary`, and the measurements taken."""
    seen = CanarySeen(
        stable=stable or stable_running(V1),
        canary=canary,
        measurements=measurements,
        now=at(now),
    )
    return plan_canary(ms, build_deployment(ms), seen)
