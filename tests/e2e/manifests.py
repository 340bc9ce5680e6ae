"""Builders for the Microservice manifests the e2e suites apply."""

from __future__ import annotations

from typing import Any


def microservice(name: str, namespace: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "shopmesh.io/v1alpha1",
        "kind": "Microservice",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"image": "shopmesh/e2e:1.0.0", "port": 8080, "replicas": 2, **spec},
    }
