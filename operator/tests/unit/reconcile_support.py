"""Helpers shared by the reconcile tests of shop/cart: the children it has
without autoscaling, and its stored children as render would produce them."""

from __future__ import annotations

import copy
from typing import Any

from shopmesh_operator.models import Microservice
from shopmesh_operator.reconcile import reconcile_microservice
from shopmesh_operator.render import build_children

from .fake_cluster import FakeCluster

NS, NAME = "shop", "cart"
#: The children of a Microservice without autoscaling, in apply order.
KINDS = (
    "ServiceAccount",
    "Service",
    "Deployment",
    "PodDisruptionBudget",
    "PeerAuthentication",
    "DestinationRule",
    "VirtualService",
    "AuthorizationPolicy",
    "ServiceMonitor",
)
C0 = ".spec.template.spec.containers[0]"


async def settle(cluster: FakeCluster) -> None:
    """Reconcile once and forget the writes that took."""
    await reconcile_microservice(NS, NAME, cluster)
    cluster.forget_writes()


def rendered_children(cluster: FakeCluster) -> list[dict[str, Any]]:
    return build_children(Microservice.from_body(cluster.microservice()))


def stored_children(cluster: FakeCluster) -> list[dict[str, Any]]:
    """The stored children in render order, without what the fake server added."""
    stored = [copy.deepcopy(cluster.child(kind)) for kind in KINDS]
    for obj in stored:
        obj.pop("status", None)
        obj["metadata"].pop("generation", None)
        obj["metadata"].pop("managedFields", None)
    return stored
