"""Handlers on Microservice resources: create, update and resume reconcile at once.

There is deliberately no kopf timer or daemon here: kopf guards those with a
finalizer, and a finalizer makes `kubectl delete msvc` hang whenever the
operator is down. The safety-net resync lives in resync.py instead.
"""

from __future__ import annotations

from typing import Any

import kopf

from shopmesh_operator import constants as c
from shopmesh_operator.apply import ApplyError
from shopmesh_operator.reconcile import InvalidSpec

RETRY_SECONDS = 5.0


async def reconcile_named(namespace: str, name: str, memo: Any) -> None:
    """Reconcile one Microservice; transient API failures become kopf retries."""
    try:
        await memo.reconciler.request(namespace, name)
    except InvalidSpec as err:
        raise kopf.PermanentError(str(err)) from err
    except ApplyError as err:
        raise kopf.TemporaryError(err.message, delay=RETRY_SECONDS) from err


@kopf.on.resume(c.GROUP, c.VERSION, c.PLURAL)
@kopf.on.create(c.GROUP, c.VERSION, c.PLURAL)
@kopf.on.update(c.GROUP, c.VERSION, c.PLURAL)
async def reconcile(namespace: str | None, name: str, memo: Any, **_: Any) -> None:
    if namespace:  # the resource is namespaced; kopf's signature allows None
        await reconcile_named(namespace, name, memo)
