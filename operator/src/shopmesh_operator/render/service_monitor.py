"""Prometheus Operator ServiceMonitor: scrape /metrics on the `http` port of the
stable Service. That works without a mesh; under Istio's STRICT mTLS and the rendered
AuthorizationPolicy the app port refuses Prometheus, and the pods' prometheus.io
annotations (render/deployment.py) let Istio's metrics merging serve the same metrics on
the sidecar agent's port instead (README: "Scraping in a mesh").
Used by render/__init__.py."""

from __future__ import annotations

from typing import Any

from shopmesh_operator import constants as c
from shopmesh_operator.models import Microservice
from shopmesh_operator.render.metadata import build_metadata, build_selector_labels

SCRAPE_INTERVAL = "30s"


def build_service_monitor(ms: Microservice) -> dict[str, Any]:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": build_metadata(ms),
        "spec": {
            "selector": {"matchLabels": build_selector_labels(ms)},
            "namespaceSelector": {"matchNames": [ms.metadata.namespace]},
            "endpoints": [{"port": "http", "path": c.METRICS_PATH, "interval": SCRAPE_INTERVAL}],
        },
    }
