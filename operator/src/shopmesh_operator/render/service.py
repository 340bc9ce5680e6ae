"""The stable ClusterIP Service in front of a Microservice's pods.

The port is named `http` (with appProtocol) so Istio treats the traffic as HTTP.
Used by render/__init__.py.
"""

from __future__ import annotations

from typing import Any

from shopmesh_operator.models import Microservice
from shopmesh_operator.render.metadata import build_metadata, build_selector_labels


def build_service(ms: Microservice) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": build_metadata(ms),
        "spec": {
            "type": "ClusterIP",
            "selector": build_selector_labels(ms),
            "ports": [
                {
                    "name": "http",
                    "port": ms.spec.port,
                    "targetPort": "http",
                    "protocol": "TCP",
                    "appProtocol": "http",
                }
            ],
        },
    }
