"""A typed Microservice for the render table tests: shop/cart with the given spec."""

from __future__ import annotations

from typing import Any

from shopmesh_operator.models import Microservice

IMAGE = "shopmesh/cart:1.0"
SELECTOR = {"app.kubernetes.io/name": "cart", "app.kubernetes.io/instance": "cart"}


def make_microservice(*, namespace: str = "shop", **spec: Any) -> Microservice:
    return Microservice.from_body(
        {
            "metadata": {"name": "cart", "namespace": namespace, "uid": "u1", "generation": 1},
            "spec": {"image": IMAGE, **spec},
        }
    )
