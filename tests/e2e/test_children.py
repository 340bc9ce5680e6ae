"""Every child a full Microservice renders, on the real API server with the real
Istio and Prometheus Operator CRDs: present, owned, and with the content the
spec asks for; mesh policy tampered with is put back; unknown callers are a
condition, not a silent change."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kube import apply, condition, get, kubectl, wait_for
from manifests import microservice

pytestmark = pytest.mark.e2e

FULL_SPEC: dict[str, Any] = {
    "replicas": 2,
    "autoscaling": {"minReplicas": 2, "maxReplicas": 6, "targetCPUUtilization": 70},
    "disruption": {"minAvailable": 1},
    "mesh": {
        "mtls": "STRICT",
        "allowedCallers": ["caller"],
        "timeout": "5s",
        "retries": {"attempts": 2, "perTryTimeout": "2s", "retryOn": "5xx,reset"},
        "circuitBreaker": {"consecutive5xxErrors": 3, "maxPendingRequests": 50},
    },
}


def ready(namespace: str, name: str = "web") -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        ms = get("msvc", name, namespace)
        cond = condition(ms, "Ready")
        return ms if cond and cond["status"] == "True" else None

    return wait_for(probe, what=f"msvc {name} Ready", timeout=90)


def caller_account(namespace: str, name: str = "caller") -> None:
    apply(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": name, "namespace": namespace},
        }
    )


# (kind, a path into the object, the value the spec asks for)
EXPECTED = [
    pytest.param("horizontalpodautoscaler", ("spec", "maxReplicas"), 6, id="hpa-max"),
    pytest.param(
        "horizontalpodautoscaler",
        ("spec", "metrics", 0, "resource", "target", "averageUtilization"),
        70,
        id="hpa-cpu-target",
    ),
    pytest.param("poddisruptionbudget", ("spec", "minAvailable"), 1, id="pdb-min-available"),
    pytest.param("peerauthentication", ("spec", "mtls", "mode"), "STRICT", id="peer-auth-strict"),
    pytest.param(
        "destinationrule", ("spec", "trafficPolicy", "tls", "mode"), "ISTIO_MUTUAL", id="dr-mtls"
    ),
    pytest.param(
        "destinationrule",
        ("spec", "trafficPolicy", "outlierDetection", "consecutive5xxErrors"),
        3,
        id="dr-outlier",
    ),
    pytest.param(
        "destinationrule",
        ("spec", "trafficPolicy", "connectionPool", "http", "http1MaxPendingRequests"),
        50,
        id="dr-pool",
    ),
    pytest.param("destinationrule", ("spec", "subsets", 0, "name"), "stable", id="dr-subset"),
    pytest.param("virtualservice", ("spec", "http", 0, "timeout"), "5s", id="vs-timeout"),
    pytest.param(
        "virtualservice",
        ("spec", "http", 0, "retries"),
        {"attempts": 2, "perTryTimeout": "2s", "retryOn": "5xx,reset"},
        id="vs-retries",
    ),
    pytest.param("virtualservice", ("spec", "http", 0, "route", 0, "weight"), 100, id="vs-weight"),
    pytest.param("authorizationpolicy", ("spec", "action"), "ALLOW", id="authz-allow"),
    pytest.param(
        "servicemonitor", ("spec", "endpoints", 0, "path"), "/metrics", id="servicemonitor"
    ),
]


def dig(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        obj = obj[key]
    return obj


@pytest.fixture
def full_service(operator: Any, namespace: str) -> str:
    caller_account(namespace)
    apply(microservice("web", namespace, **FULL_SPEC))
    ready(namespace)
    return namespace


@pytest.mark.parametrize(("kind", "path", "expected"), EXPECTED)
def test_child_has_the_content_the_spec_asks_for(
    full_service: str, kind: str, path: tuple[Any, ...], expected: Any
) -> None:
    ms = get("msvc", "web", full_service)
    child = get(kind, "web", full_service)
    assert child is not None, kind
    assert dig(child, path) == expected
    owner = child["metadata"]["ownerReferences"][0]
    assert owner["uid"] == ms["metadata"]["uid"]  # type: ignore[index]


def test_authorization_policy_allows_exactly_the_callers(full_service: str) -> None:
    policy = get("authorizationpolicy", "web", full_service)
    assert policy is not None
    principals = policy["spec"]["rules"][0]["from"][0]["source"]["principals"]
    assert principals == [f"cluster.local/ns/{full_service}/sa/caller"]


def test_deployment_replicas_belong_to_the_hpa(full_service: str) -> None:
    out = kubectl(
        "get", "deployment", "web", "-n", full_service, "-o", "json", "--show-managed-fields"
    ).stdout
    deploy = json.loads(out)
    managers = {m["manager"]: m for m in deploy["metadata"].get("managedFields", [])}
    ours = managers["shopmesh-operator"]["fieldsV1"]["f:spec"]
    assert "f:replicas" not in ours
    assert deploy["spec"]["replicas"] == 2


TAMPER = [
    pytest.param(
        lambda ns: kubectl(
            "patch",
            "peerauthentication",
            "web",
            "-n",
            ns,
            "--type=merge",
            "-p",
            '{"spec": {"mtls": {"mode": "PERMISSIVE"}}}',
        ),
        lambda ns: (
            (get("peerauthentication", "web", ns) or {}).get("spec", {}).get("mtls", {}).get("mode")
        ),
        "STRICT",
        id="peer-authentication-loosened",
    ),
    pytest.param(
        lambda ns: kubectl("delete", "horizontalpodautoscaler", "web", "-n", ns),
        lambda ns: (
            (get("horizontalpodautoscaler", "web", ns) or {}).get("spec", {}).get("maxReplicas")
        ),
        6,
        id="hpa-deleted",
    ),
    pytest.param(
        lambda ns: kubectl(
            "patch",
            "authorizationpolicy",
            "web",
            "-n",
            ns,
            "--type=merge",
            "-p",
            '{"spec": {"rules": [{}]}}',
        ),
        lambda ns: len(
            (get("authorizationpolicy", "web", ns) or {}).get("spec", {}).get("rules", [{}])[0]
        ),
        1,
        id="authorization-opened-to-everyone",
    ),
    pytest.param(
        lambda ns: kubectl(
            "patch",
            "virtualservice",
            "web",
            "-n",
            ns,
            "--type=json",
            "-p",
            '[{"op": "replace", "path": "/spec/http/0/timeout", "value": "60s"}]',
        ),
        lambda ns: (
            (get("virtualservice", "web", ns) or {})
            .get("spec", {})
            .get("http", [{}])[0]
            .get("timeout")
        ),
        "5s",
        id="timeout-raised",
    ),
]


@pytest.mark.parametrize(("tamper", "read", "expected"), TAMPER)
def test_tampered_mesh_policy_is_put_back(
    full_service: str, tamper: Any, read: Any, expected: Any
) -> None:
    tamper(full_service)
    wait_for(lambda: read(full_service) == expected, what="policy restored", timeout=20)


def _principals(namespace: str) -> list[str]:
    policy = get("authorizationpolicy", "web", namespace) or {}
    return [
        principal
        for rule in policy.get("spec", {}).get("rules", [])
        for source in rule.get("from", [])
        for principal in source["source"]["principals"]
    ]


def _out_of_sync(namespace: str, status: str) -> dict[str, Any] | None:
    cond = condition(get("msvc", "web", namespace), "OutOfSync")
    return cond if cond and cond["status"] == status else None


def test_unknown_caller_is_a_condition_and_waits_while_a_revoked_one_loses_access(
    full_service: str,
) -> None:
    ns = full_service
    caller_account(ns, "other")
    spec = {**FULL_SPEC, "mesh": {**FULL_SPEC["mesh"], "allowedCallers": ["caller", "other"]}}
    apply(microservice("web", ns, **spec))
    both = [f"cluster.local/ns/{ns}/sa/caller", f"cluster.local/ns/{ns}/sa/other"]
    wait_for(lambda: _principals(ns) == both, what="both callers allowed", timeout=30)

    # Revoke `caller` and add `ghost`, whose ServiceAccount does not exist yet.
    spec["mesh"] = {**spec["mesh"], "allowedCallers": ["other", "ghost"]}
    apply(microservice("web", ns, **spec))
    cond = wait_for(lambda: _out_of_sync(ns, "True"), what="OutOfSync=True", timeout=30)
    assert cond["reason"] == "UnknownCaller"
    assert f"{ns}/ghost" in cond["message"]
    # The revocation is in the same pass: only `other` is allowed, `caller` is out.
    assert _principals(ns) == [f"cluster.local/ns/{ns}/sa/other"]

    caller_account(ns, "ghost")
    wait_for(lambda: _out_of_sync(ns, "False"), what="OutOfSync=False", timeout=30)
    assert _principals(ns) == [f"cluster.local/ns/{ns}/sa/other", f"cluster.local/ns/{ns}/sa/ghost"]
