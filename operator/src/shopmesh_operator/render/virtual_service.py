"""Istio VirtualService: the route timeout, retries (attempts, perTryTimeout,
retryOn) and the weights over the release-track subsets (all to stable for a
rolling release). Used by render/__init__.py."""

from __future__ import annotations

from typing import Any

from shopmesh_operator import constants as c
from shopmesh_operator.models import Microservice
from shopmesh_operator.render.destination_rule import service_host
from shopmesh_operator.render.metadata import build_metadata


def build_virtual_service(ms: Microservice) -> dict[str, Any]:
    mesh = ms.spec.mesh
    route: dict[str, Any] = {
        "name": "primary",
        "route": [
            {
                "destination": {
                    "host": service_host(ms),
                    "subset": c.TRACK_STABLE,
                    "port": {"number": ms.spec.port},
                },
                "weight": 100,
            }
        ],
        "timeout": mesh.timeout,
    }
    if mesh.retries.attempts:
        route["retries"] = {
            "attempts": mesh.retries.attempts,
            "perTryTimeout": mesh.retries.per_try_timeout,
            "retryOn": mesh.retries.retry_on,
        }
    else:
        route["retries"] = {"attempts": 0}
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": build_metadata(ms),
        "spec": {"hosts": [service_host(ms)], "http": [route]},
    }
