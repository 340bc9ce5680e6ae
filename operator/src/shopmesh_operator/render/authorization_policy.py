"""Istio AuthorizationPolicy: ALLOW only the service-account principals of
spec.mesh.allowedCallers; with no callers it allows nothing, so everyone else is
denied either way. Used by render/__init__.py; reconcile.py decides, before
applying, whether every caller exists."""

from __future__ import annotations

import os
from typing import Any

from shopmesh_operator.models import Microservice
from shopmesh_operator.render.metadata import build_metadata, build_selector_labels


def trust_domain() -> str:
    return os.environ.get("SHOPMESH_TRUST_DOMAIN", "cluster.local")


def caller_identity(ms: Microservice, caller: str) -> tuple[str, str]:
    """(namespace, serviceaccount) of an allowedCallers entry."""
    namespace, _, name = caller.rpartition("/")
    return (namespace or ms.metadata.namespace, name)


def build_authorization_policy(
    ms: Microservice, *, callers: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """The policy for `callers` (default: every entry of spec.mesh.allowedCallers)."""
    chosen = ms.spec.mesh.allowed_callers if callers is None else callers
    spec: dict[str, Any] = {
        "selector": {"matchLabels": build_selector_labels(ms)},
        "action": "ALLOW",
    }
    principals = [
        f"{trust_domain()}/ns/{namespace}/sa/{account}"
        for namespace, account in (caller_identity(ms, caller) for caller in chosen)
    ]
    # An ALLOW policy without rules matches nothing: every request is denied.
    spec["rules"] = [{"from": [{"source": {"principals": principals}}]}] if principals else []
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "AuthorizationPolicy",
        "metadata": build_metadata(ms),
        "spec": spec,
    }
