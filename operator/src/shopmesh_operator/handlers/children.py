"""Handlers on the children the operator renders: any change or deletion of a
managed child reconciles its Microservice at once, which is how drift is
repaired within seconds and how status follows the Deployment. A ServiceAccount
that appears wakes the Microservices that wait on it as an allowed caller."""

from __future__ import annotations

from typing import Any

import kopf

from shopmesh_operator import constants as c
from shopmesh_operator.callers import take_waiting
from shopmesh_operator.handlers.microservice import reconcile_named

MANAGED = {c.LABEL_MANAGED_BY: c.MANAGED_BY}


@kopf.on.event("apps", "v1", "deployments", labels=MANAGED)
@kopf.on.event("", "v1", "services", labels=MANAGED)
@kopf.on.event("", "v1", "serviceaccounts", labels=MANAGED)
@kopf.on.event("autoscaling", "v2", "horizontalpodautoscalers", labels=MANAGED)
@kopf.on.event("policy", "v1", "poddisruptionbudgets", labels=MANAGED)
@kopf.on.event("security.istio.io", "v1", "peerauthentications", labels=MANAGED)
@kopf.on.event("security.istio.io", "v1", "authorizationpolicies", labels=MANAGED)
@kopf.on.event("networking.istio.io", "v1", "destinationrules", labels=MANAGED)
@kopf.on.event("networking.istio.io", "v1", "virtualservices", labels=MANAGED)
@kopf.on.event("monitoring.coreos.com", "v1", "servicemonitors", labels=MANAGED)
async def child_changed(
    namespace: str | None,
    labels: kopf.Labels,
    memo: Any,
    **_: Any,
) -> None:
    owner = labels.get(c.LABEL_MICROSERVICE)
    if owner and namespace:
        await reconcile_named(namespace, owner, memo)


@kopf.on.event("", "v1", "serviceaccounts")
async def caller_appeared(
    type: str | None, namespace: str | None, name: str, memo: Any, **_: Any
) -> None:
    """A ServiceAccount that some Microservice lists as a caller now exists."""
    if type in (None, "ADDED") and namespace:
        for waiting_namespace, waiting_name in take_waiting(namespace, name):
            await reconcile_named(waiting_namespace, waiting_name, memo)
