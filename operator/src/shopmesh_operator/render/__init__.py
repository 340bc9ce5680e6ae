"""Pure render: a typed Microservice in, the list of child manifests out.

No API calls happen here; `apply.py` writes what this returns. The order is the
apply order (identity first, then the Service, then the pods that use both).
"""

from __future__ import annotations

from typing import Any

from shopmesh_operator.models import Microservice
from shopmesh_operator.render.deployment import build_deployment
from shopmesh_operator.render.service import build_service
from shopmesh_operator.render.service_account import build_service_account

__all__ = ["build_children", "build_deployment", "build_service", "build_service_account"]


def build_children(ms: Microservice) -> list[dict[str, Any]]:
    return [build_service_account(ms), build_service(ms), build_deployment(ms)]
