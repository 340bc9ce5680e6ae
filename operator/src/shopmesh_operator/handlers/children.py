"""Handlers on the children the operator renders: any change or deletion of a
managed child reconciles its Microservice at once, which is how drift is
repaired within seconds and how status follows the Deployment."""

from __future__ import annotations

from typing import Any

import kopf

from shopmesh_operator import constants as c
from shopmesh_operator.handlers.microservice import reconcile_named

MANAGED = {c.LABEL_MANAGED_BY: c.MANAGED_BY}


@kopf.on.event("apps", "v1", "deployments", labels=MANAGED)
@kopf.on.event("", "v1", "services", labels=MANAGED)
@kopf.on.event("", "v1", "serviceaccounts", labels=MANAGED)
async def child_changed(
    namespace: str | None,
    labels: kopf.Labels,
    memo: Any,
    **_: Any,
) -> None:
    owner = labels.get(c.LABEL_MICROSERVICE)
    if owner and namespace:
        await reconcile_named(namespace, owner, memo)
