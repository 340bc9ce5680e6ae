"""Istio PeerAuthentication for the service's pods: the mTLS mode of spec.mesh.mtls
(STRICT by default). Used by render/__init__.py."""

from __future__ import annotations

from typing import Any

from shopmesh_operator.models import Microservice
from shopmesh_operator.render.metadata import build_metadata, build_selector_labels


def build_peer_authentication(ms: Microservice) -> dict[str, Any]:
    return {
        "apiVersion": "security.istio.io/v1",
        "kind": "PeerAuthentication",
        "metadata": build_metadata(ms),
        "spec": {
            "selector": {"matchLabels": build_selector_labels(ms)},
            "mtls": {"mode": ms.spec.mesh.mtls},
        },
    }
