"""The local cluster itself: the pinned API server version, three KWOK nodes,
the upstream CRDs, the unready-on-purpose pod stage, and `cluster-up` twice."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kube import ENV, REPO, apply, condition, kubectl, list_items, wait_for

pytestmark = pytest.mark.e2e


def pinned(key: str) -> str:
    for line in (REPO / "ci/cluster/versions.env").read_text().splitlines():
        if line.startswith(f"{key}="):
            return line.split("=", 1)[1]
    raise KeyError(key)


def test_server_and_kubectl_are_the_pinned_builds(cluster: None) -> None:
    version = json.loads(kubectl("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"] == pinned("KUBERNETES_VERSION")
    assert version["clientVersion"]["gitVersion"] == pinned("KUBERNETES_VERSION")
    which = subprocess.run(
        ["bash", "-c", "command -v kubectl"], env=ENV, capture_output=True, text=True
    )
    assert ".cache/shopmesh/bin/kubernetes-" in which.stdout or "shopmesh/bin" in which.stdout


def test_three_fake_nodes_are_ready(cluster: None) -> None:
    nodes = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert len(nodes) >= 3
    for node in nodes:
        assert condition(node, "Ready")["status"] == "True"  # type: ignore[index]


@pytest.mark.parametrize(
    "crd",
    [
        "virtualservices.networking.istio.io",
        "destinationrules.networking.istio.io",
        "peerauthentications.security.istio.io",
        "authorizationpolicies.security.istio.io",
        "servicemonitors.monitoring.coreos.com",
        "prometheusrules.monitoring.coreos.com",
        "microservices.shopmesh.io",
    ],
)
def test_crd_is_installed_and_established(cluster: None, crd: str) -> None:
    obj = json.loads(kubectl("get", "crd", crd, "-o", "json").stdout)
    assert condition(obj, "Established")["status"] == "True"  # type: ignore[index]


def deployment(name: str, namespace: str, pod_labels: dict[str, str]) -> dict[str, Any]:
    labels = {"app": name, **pod_labels}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "example/app:1"}]},
            },
        },
    }


def test_pod_labelled_unready_runs_but_never_becomes_ready(cluster: None, namespace: str) -> None:
    apply(deployment("healthy", namespace, {}))
    apply(deployment("sick", namespace, {"shopmesh.io/kwok-unready": "true"}))

    def running(app: str) -> Any:
        pods = list_items("pods", namespace, f"app={app}")
        return pods if pods and pods[0]["status"].get("phase") == "Running" else None

    healthy = wait_for(lambda: running("healthy"), what="healthy pod Running")
    sick = wait_for(lambda: running("sick"), what="sick pod Running")
    assert condition(healthy[0], "Ready")["status"] == "True"  # type: ignore[index]
    assert condition(sick[0], "Ready")["status"] == "False"  # type: ignore[index]
    # It stays that way: KWOK's pod-ready stage skips the labelled pod.
    import time

    time.sleep(3)
    sick_now = list_items("pods", namespace, "app=sick")
    assert condition(sick_now[0], "Ready")["status"] == "False"  # type: ignore[index]


NODE_DIR = REPO / ".shopmesh/node"
NODE_DAEMONS = ("containerd", "kubelet", "kube-proxy")
NODE_FILES = ("containerd.toml", "kubelet.yaml", "kube-proxy.yaml", "kubeconfig.yaml")


def _node_state() -> dict[str, Any]:
    """The real node's daemon pids and its configuration files' modification times:
    kube-proxy exits when its file is rewritten, even with the same content."""
    pids = {d: (NODE_DIR / f"{d}.pid").read_text().strip() for d in NODE_DAEMONS}
    mtimes = {f: (NODE_DIR / f).stat().st_mtime_ns for f in NODE_FILES}
    return {"pids": pids, "mtimes": mtimes}


def test_cluster_up_twice_is_harmless(cluster: None) -> None:
    before = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    node_before = _node_state()
    result = subprocess.run(
        ["bash", str(REPO / "ci/cluster/cluster.sh"), "up"], env=ENV, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "already up" in result.stderr
    after = json.loads(kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert {n["metadata"]["uid"] for n in before} == {n["metadata"]["uid"] for n in after}
    assert _node_state() == node_before
    for pid in node_before["pids"].values():
        assert (Path("/proc") / pid).exists(), f"pid {pid} of the real node is gone"
