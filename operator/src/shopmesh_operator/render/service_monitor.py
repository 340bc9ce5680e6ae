"""Prometheus Operator ServiceMonitor: scrape /metrics on the `http` port of the
stable Service. Used by render/__init__.py."""

from __future__ import annotations

from typing import Any

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
            "endpoints": [{"port": "http", "path": "/metrics", "interval": SCRAPE_INTERVAL}],
        },
    }
