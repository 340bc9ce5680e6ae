"""Builders shared by the status tables: shop/cart as a Microservice and its live
Deployment, with every count and condition a table row may want to vary."""

from __future__ import annotations

from typing import Any

from shopmesh_operator.models import Microservice

IMAGE = "shopmesh/cart:1.0"
T0 = "2024-01-01T00:00:00Z"
NOW = "2024-06-01T12:00:00Z"

DEADLINE = {
    "type": "Progressing",
    "status": "False",
    "reason": "ProgressDeadlineExceeded",
    "message": 'ReplicaSet "cart-6d4" has timed out progressing.',
}


def microservice(
    *, replicas: int = 3, generation: int = 2, status: dict[str, Any] | None = None
) -> Microservice:
    return Microservice.from_body(
        {
            "metadata": {
                "name": "cart",
                "namespace": "shop",
                "uid": "u1",
                "generation": generation,
            },
            "spec": {"image": IMAGE, "replicas": replicas},
            "status": status,
        }
    )


def deployment_body(
    *,
    image: str = IMAGE,
    generation: int = 5,
    observed: int = 5,
    replicas: int = 3,
    updated: int = 3,
    ready: int = 3,
    available: int = 3,
    conditions: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    return {
        "metadata": {"name": "cart", "generation": generation},
        "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": ready,
            "availableReplicas": available,
            "conditions": list(conditions),
        },
    }
