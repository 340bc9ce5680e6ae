"""Allowed callers that do not exist (yet): which are missing, and who waits on them.

A caller in spec.mesh.allowedCallers names a ServiceAccount. One that does not
exist cannot be judged by the CRD schema, so reconcile reports it as an
OutOfSync condition and leaves it out of the AuthorizationPolicy (the callers that
exist are applied at once: a revoked caller loses access in the same pass). `CallerWaits`
remembers which Microservices wait on which ServiceAccount, so the watch that
sees that ServiceAccount appear can reconcile them at once instead of waiting
for the resync. One instance lives on the operator's `Reconciler` (reconcile.py);
watch.py takes from it.
"""

from __future__ import annotations

from collections import defaultdict

from shopmesh_operator.apply import ClusterApi
from shopmesh_operator.models import Microservice
from shopmesh_operator.render.authorization_policy import caller_identity

Ref = tuple[str, str]  # (namespace, name)


class CallerWaits:
    """Which Microservices wait on which missing ServiceAccount."""

    def __init__(self) -> None:
        self._waiting: defaultdict[Ref, set[Ref]] = defaultdict(set)

    async def split(
        self, ms: Microservice, api: ClusterApi
    ) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """(callers whose ServiceAccount exists, callers whose ServiceAccount does not);
        `ms` is remembered as waiting on each missing one, and forgotten for the others."""
        known: list[str] = []
        missing: list[str] = []
        me = (ms.metadata.namespace, ms.metadata.name)
        for caller in ms.spec.mesh.allowed_callers:
            account = caller_identity(ms, caller)
            if await api.get("v1", "ServiceAccount", *account) is None:
                missing.append(caller)
                self._waiting[account].add(me)
            else:
                known.append(caller)
                self._waiting.get(account, set()).discard(me)
        return tuple(known), tuple(missing)

    def take(self, namespace: str, service_account: str) -> set[Ref]:
        """The Microservices that waited on this ServiceAccount; forgets them."""
        return self._waiting.pop((namespace, service_account), set())
