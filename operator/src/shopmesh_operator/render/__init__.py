"""Pure render: a typed Microservice in, the list of child manifests out.

No API calls happen here; `apply.py` writes what this returns. The order is the
apply order: identity first, then the Service, then the pods that use both, then
what governs them (scaling, disruption, mesh policy, monitoring).
"""

from __future__ import annotations

from typing import Any

from shopmesh_operator.models import Microservice
from shopmesh_operator.render.authorization_policy import build_authorization_policy
from shopmesh_operator.render.autoscaler import build_autoscaler
from shopmesh_operator.render.deployment import build_canary_deployment, build_deployment
from shopmesh_operator.render.destination_rule import build_destination_rule
from shopmesh_operator.render.disruption_budget import build_disruption_budget
from shopmesh_operator.render.peer_authentication import build_peer_authentication
from shopmesh_operator.render.service import build_preview_service, build_service
from shopmesh_operator.render.service_account import build_service_account
from shopmesh_operator.render.service_monitor import build_service_monitor
from shopmesh_operator.render.virtual_service import build_virtual_service

__all__ = [
    "build_authorization_policy",
    "build_autoscaler",
    "build_canary_deployment",
    "build_children",
    "build_deployment",
    "build_destination_rule",
    "build_disruption_budget",
    "build_peer_authentication",
    "build_preview_service",
    "build_service",
    "build_service_account",
    "build_service_monitor",
    "build_virtual_service",
]


def build_children(ms: Microservice) -> list[dict[str, Any]]:
    children = [
        build_service_account(ms),
        build_service(ms),
        build_preview_service(ms),
        build_deployment(ms),
        build_autoscaler(ms),
        build_disruption_budget(ms),
        build_peer_authentication(ms),
        build_destination_rule(ms),
        build_virtual_service(ms),
        build_authorization_policy(ms),
        build_service_monitor(ms),
    ]
    return [child for child in children if child is not None]
