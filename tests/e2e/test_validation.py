"""Rendered output checked by real tools: kubeconform -strict against the pinned
Kubernetes schemas and the Istio, Prometheus Operator and ShopMesh CRD schemas
(ci/validate/validate.sh). The table of broken manifests shows the check can fail."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kube import ENV, REPO

pytestmark = pytest.mark.e2e
VALIDATE = str(REPO / "ci/validate/validate.sh")


def run(*files: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", VALIDATE, *files], env=ENV, capture_output=True, text=True, timeout=600
    )


def test_every_rendered_child_of_the_examples_is_valid() -> None:
    result = run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No validation issues found" in result.stdout + result.stderr  # istioctl analyze
    summary = re.search(
        r"Valid: (\d+), Invalid: (\d+), Errors: (\d+), Skipped: (\d+)", result.stdout
    )
    assert summary, result.stdout
    valid, invalid, errors, skipped = map(int, summary.groups())
    assert (invalid, errors, skipped) == (0, 0, 0)
    examples = len(list((REPO / "examples/microservices").glob("0[1-9]-*.yaml")))
    assert valid >= examples * 9, "every child kind of every example must have been checked"


def deployment(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i"}]},
            },
            **spec,
        },
    }


BROKEN = [
    pytest.param(deployment(replica=2), id="deployment-unknown-field"),
    pytest.param(deployment(replicas="two"), id="deployment-wrong-type"),
    pytest.param(
        {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": "x"},
            "spec": {"hosts": ["x"], "http": [{"timeout": 5, "route": []}]},
        },
        id="virtualservice-timeout-not-a-string",
    ),
    pytest.param(
        {
            "apiVersion": "security.istio.io/v1",
            "kind": "PeerAuthentication",
            "metadata": {"name": "x"},
            "spec": {"mtls": {"mode": "STRICT", "strictness": "very"}},
        },
        id="peerauthentication-unknown-field",
    ),
    pytest.param(
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": "x"},
            "spec": {"selector": {}, "endpoints": [{"port": "http", "interval": "often"}]},
        },
        id="servicemonitor-bad-interval",
    ),
    pytest.param(
        {
            "apiVersion": "shopmesh.io/v1alpha1",
            "kind": "Microservice",
            "metadata": {"name": "x"},
            "spec": {"image": "i", "port": 70000},
        },
        id="microservice-port-out-of-range",
    ),
]


def virtual_service(**route: Any) -> dict[str, Any]:
    destination = {"destination": {"host": "x.d.svc.cluster.local"}, "weight": 100}
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "x", "namespace": "d"},
        "spec": {"hosts": ["x"], "http": [{"route": [destination], **route}]},
    }


# Refused by the schema or by Istio's own validation (istioctl validate).
ISTIO_REFUSES = [
    pytest.param(
        virtual_service(retries={"attempts": -1}),
        "attempts cannot be negative",
        id="negative-retries",
    ),
    pytest.param(virtual_service(timeout="-1s"), "duration", id="negative-timeout"),
]


@pytest.mark.parametrize(("manifest", "message"), ISTIO_REFUSES)
def test_istioctl_refuses_what_istio_would(
    tmp_path: Path, manifest: dict[str, Any], message: str
) -> None:
    path = tmp_path / "istio.yaml"
    path.write_text(yaml.safe_dump(manifest))
    result = run(str(path))
    assert result.returncode != 0, result.stdout + result.stderr
    assert message in result.stdout + result.stderr


@pytest.mark.parametrize("manifest", BROKEN)
def test_a_broken_manifest_is_refused(tmp_path: Path, manifest: dict[str, Any]) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(manifest))
    result = run(str(path))
    assert result.returncode != 0, result.stdout
    assert "Invalid: 1" in result.stdout, result.stdout
