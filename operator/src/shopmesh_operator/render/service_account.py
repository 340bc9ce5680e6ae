"""The ServiceAccount a Microservice's pods run as; its name is the mesh identity
that AuthorizationPolicies match on. Used by render/__init__.py."""

from __future__ import annotations

from typing import Any

from shopmesh_operator.models import Microservice
from shopmesh_operator.render.metadata import build_metadata


def build_service_account(ms: Microservice) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": build_metadata(ms),
        "automountServiceAccountToken": False,
    }
