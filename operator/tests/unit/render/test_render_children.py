"""Golden-file tests for `render.build_children`: each example Microservice renders
to exactly the YAML in golden/<case>.yaml, and every child keeps the invariants the
operator promises (controller owner reference, managed-by labels, zero-downtime
rollout, hardened pods, selectors and mesh routes that find the pods) even if a
golden file is regenerated carelessly. Each child kind has its own table test in
test_render_<module>.py.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import pytest
import yaml

from shopmesh_operator import constants as c
from shopmesh_operator.models import Microservice
from shopmesh_operator.render import build_children

from ..reconcile_support import KINDS

METADATA: dict[str, Any] = {
    "name": "payments",
    "namespace": "shop",
    "uid": "0b5c1c1e-7d1a-4c51-9a43-7f1d2b1f8e01",
    "generation": 3,
}

CASES: dict[str, dict[str, Any]] = {
    "minimal": {"image": "shopmesh/payments"},
    "full": {
        "image": "registry.shopmesh.local:5000/shopmesh/payments:1.4.0",
        "port": 9090,
        "replicas": 0,
        "env": [
            {"name": "LOG_LEVEL", "value": "debug"},
            {
                "name": "DB_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "payments-db", "key": "password"}},
            },
            {
                "name": "FEATURE_FLAGS",
                "valueFrom": {
                    "configMapKeyRef": {"name": "flags", "key": "payments", "optional": True}
                },
            },
        ],
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"cpu": 1, "memory": "512Mi"},
        },
        "probes": {"readiness": "/ready", "liveness": "/live"},
    },
    "requests_only_digest": {
        "image": "shopmesh/payments:1.4.0@sha256:" + "ab" * 32,
        "resources": {"requests": {"cpu": "100m"}},
    },
    "full_mesh": {
        "image": "shopmesh/payments:2.1.0",
        "port": 8081,
        "resources": {"requests": {"cpu": "200m", "memory": "256Mi"}},
        "autoscaling": {
            "minReplicas": 2,
            "maxReplicas": 12,
            "targetCPUUtilization": 70,
            "targetMemoryUtilization": 80,
            "metrics": [{"name": "http_requests_per_second", "targetAverageValue": "100"}],
        },
        "disruption": {"minAvailable": "50%"},
        "mesh": {
            "mtls": "STRICT",
            "allowedCallers": ["orders", "istio-system/istio-ingressgateway-service-account"],
            "timeout": "6s",
            "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,reset"},
            "circuitBreaker": {
                "consecutive5xxErrors": 3,
                "interval": "5s",
                "baseEjectionTime": "1m",
                "maxEjectionPercent": 100,
                "maxPendingRequests": 64,
                "maxRequestsPerConnection": 10,
                "maxConnections": 256,
            },
            "loadBalancer": "ROUND_ROBIN",
        },
        "rollout": {"strategy": "Rolling"},
    },
    "mesh_mtls_disable": {"image": "shopmesh/payments:1.4.0", "mesh": {"mtls": "DISABLE"}},
    "mesh_retries_off": {"image": "shopmesh/payments:1.4.0", "mesh": {"retries": {"attempts": 0}}},
}


def _microservice(case: str) -> Microservice:
    return Microservice.from_body({"metadata": METADATA, "spec": CASES[case]})


def _dump(children: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(children, sort_keys=True, default_flow_style=False)


@pytest.mark.parametrize("case", [pytest.param(name, id=name) for name in CASES])
def test_children_match_golden(case: str, golden_dir: Path, update_golden: bool) -> None:
    rendered = _dump(build_children(_microservice(case)))
    golden = golden_dir / f"{case}.yaml"
    if update_golden:
        golden.write_text(rendered)
    assert golden.exists(), f"{golden} is missing; run with SHOPMESH_UPDATE_GOLDEN=1 to create it"
    expected = golden.read_text()
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            rendered.splitlines(keepends=True),
            fromfile=str(golden),
            tofile="rendered",
        )
    )
    assert rendered == expected, f"render differs from golden (SHOPMESH_UPDATE_GOLDEN=1):\n{diff}"


def _by_kind(case: str) -> dict[str, dict[str, Any]]:
    return {child["kind"]: child for child in build_children(_microservice(case))}


@pytest.mark.parametrize("case", [pytest.param(name, id=name) for name in CASES])
def test_every_child_is_owned_and_labelled(case: str) -> None:
    children = build_children(_microservice(case))
    kinds = list(KINDS)
    if case == "full_mesh":
        kinds.insert(3, "HorizontalPodAutoscaler")
    assert [child["kind"] for child in children] == kinds
    for child in children:
        meta = child["metadata"]
        assert (meta["name"], meta["namespace"]) == ("payments", "shop")
        assert meta["ownerReferences"] == [
            {
                "apiVersion": "shopmesh.io/v1alpha1",
                "kind": "Microservice",
                "name": "payments",
                "uid": METADATA["uid"],
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ]
        assert meta["labels"][c.LABEL_MANAGED_BY] == "shopmesh-operator"
        assert meta["labels"][c.LABEL_MICROSERVICE] == "payments"


@pytest.mark.parametrize("case", [pytest.param(name, id=name) for name in CASES])
def test_deployment_is_zero_downtime_and_hardened(case: str) -> None:
    deployment = _by_kind(case)["Deployment"]
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    (container,) = pod["containers"]
    assert spec["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    assert container["lifecycle"]["preStop"] == {"sleep": {"seconds": 5}}
    assert pod["terminationGracePeriodSeconds"] > 5
    assert container["readinessProbe"]["httpGet"]["port"] == "http"
    assert container["livenessProbe"]["httpGet"]["port"] == "http"
    # Liveness holds off until the app has started (it may wait for its database first).
    assert container["startupProbe"]["httpGet"] == container["livenessProbe"]["httpGet"]
    startup = container["startupProbe"]
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 90
    assert container["ports"][0]["name"] == "http"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # The selector must not include the version label, or every upgrade would orphan pods.
    assert c.LABEL_VERSION not in spec["selector"]["matchLabels"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        pytest.param("minimal", None, id="no-resources-key-when-unset"),
        pytest.param("requests_only_digest", {"requests": {"cpu": "100m"}}, id="requests-only"),
        pytest.param(
            "full",
            {
                "requests": {"cpu": "250m", "memory": "256Mi"},
                "limits": {"cpu": 1, "memory": "512Mi"},
            },
            id="requests-and-limits",
        ),
    ],
)
def test_container_resources(case: str, expected: dict[str, Any] | None) -> None:
    (container,) = _by_kind(case)["Deployment"]["spec"]["template"]["spec"]["containers"]
    assert container.get("resources") == expected


@pytest.mark.parametrize("case", [pytest.param(name, id=name) for name in CASES])
def test_children_find_the_pods_and_each_other(case: str) -> None:
    children = _by_kind(case)
    pod_labels = children["Deployment"]["spec"]["template"]["metadata"]["labels"]
    service = children["Service"]
    host = "payments.shop.svc.cluster.local"
    for kind in ("PodDisruptionBudget", "PeerAuthentication", "AuthorizationPolicy"):
        assert children[kind]["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    monitor = children["ServiceMonitor"]["spec"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["endpoints"][0]["port"] == service["spec"]["ports"][0]["name"]
    rule = children["DestinationRule"]["spec"]
    (subset,) = rule["subsets"]
    assert subset["labels"].items() <= pod_labels.items()
    (route,) = children["VirtualService"]["spec"]["http"]
    (destination,) = route["route"]
    assert (rule["host"], children["VirtualService"]["spec"]["hosts"]) == (host, [host])
    assert destination["destination"] == {
        "host": host,
        "subset": subset["name"],
        "port": {"number": service["spec"]["ports"][0]["port"]},
    }
    assert destination["weight"] == 100
