"""Table tests for `render.service_monitor`: scrape /metrics on the `http` port of
this service's Service, in its own namespace only."""

from __future__ import annotations

import pytest

from shopmesh_operator.render import build_service_monitor

from .microservices import SELECTOR, make_microservice


@pytest.mark.parametrize(
    "namespace", [pytest.param("shop", id="shop"), pytest.param("payments-dev", id="other")]
)
def test_service_monitor(namespace: str) -> None:
    monitor = build_service_monitor(make_microservice(namespace=namespace, port=9090))
    assert (monitor["apiVersion"], monitor["kind"]) == (
        "monitoring.coreos.com/v1",
        "ServiceMonitor",
    )
    assert monitor["metadata"]["namespace"] == namespace
    assert monitor["spec"] == {
        "selector": {"matchLabels": SELECTOR},
        "namespaceSelector": {"matchNames": [namespace]},
        # By port name, so a spec.port change needs no new monitor.
        "endpoints": [{"port": "http", "path": "/metrics", "interval": "30s"}],
    }
