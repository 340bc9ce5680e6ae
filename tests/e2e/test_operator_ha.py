"""Two operator replicas with kopf peering: only one is active; when it dies the
other takes over. And the operator survives an API server restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kube import ENV, REPO, apply, condition, create_namespace, get, kubectl, wait_for
from manifests import microservice

pytestmark = pytest.mark.e2e
LOGS = REPO / ".shopmesh/logs"


def start_operator(namespace: str, log: Path, *, priority: int) -> subprocess.Popen[bytes]:
    env = {
        **ENV,
        "SHOPMESH_NAMESPACES": namespace,
        "SHOPMESH_PEERING": "shopmesh",
        "SHOPMESH_PRIORITY": str(priority),
        "PYTHONUNBUFFERED": "1",
    }
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "shopmesh_operator"], env=env, stdout=out, stderr=out
        )


@pytest.fixture
def peer_namespace(cluster: None) -> Iterator[str]:
    # Not e2e-*: the session's operator must not act here.
    name = f"peer-{uuid.uuid4().hex[:8]}"
    create_namespace(name)
    apply(
        {
            "apiVersion": "kopf.dev/v1",
            "kind": "KopfPeering",
            "metadata": {"name": "shopmesh", "namespace": name},
        }
    )
    yield name
    kubectl("delete", "namespace", name, "--wait=false", check=False)


def restart_api_server() -> None:
    """Stop kube-apiserver alone and start it again with the very same command line.

    etcd, the controllers and KWOK keep running and must reconnect, as in a real
    control-plane upgrade; kwokctl's pid file is updated so `cluster-down` still
    finds the new process.
    """
    cluster = Path(ENV["KWOK_WORKDIR"]) / "clusters" / ENV.get("SHOPMESH_CLUSTER_NAME", "shopmesh")
    pid_file = cluster / "pids" / "kube-apiserver.pid"
    pid = int(pid_file.read_text().strip())
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    cwd = os.readlink(f"/proc/{pid}/cwd")
    os.kill(pid, signal.SIGTERM)
    port = int(ENV["SHOPMESH_API_PORT"])
    wait_for(lambda: not port_open(port), what="API server stopped", timeout=60)
    with (cluster / "logs" / "kube-apiserver.log").open("ab") as log:
        proc = subprocess.Popen(
            [a.decode() for a in argv], cwd=cwd, stdout=log, stderr=log, start_new_session=True
        )
    pid_file.write_text(str(proc.pid))


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def replicas_of(namespace: str) -> Any:
    deploy = get("deployment", "web", namespace)
    return deploy and deploy["spec"]["replicas"]


def test_only_one_replica_is_active_and_the_standby_takes_over(peer_namespace: str) -> None:
    logs = [LOGS / f"operator-peer-{i}.log" for i in (0, 1)]
    LOGS.mkdir(parents=True, exist_ok=True)
    high = start_operator(peer_namespace, logs[0], priority=100)
    time.sleep(2)
    low = start_operator(peer_namespace, logs[1], priority=10)
    try:
        apply(microservice("web", peer_namespace))
        wait_for(lambda: condition(get("msvc", "web", peer_namespace), "Ready"), what="Ready")
        assert "created Deployment web" in logs[0].read_text()
        # Drift while both run: only the active (higher-priority) replica repairs it.
        kubectl("scale", "deployment", "web", "-n", peer_namespace, "--replicas=4")
        wait_for(lambda: replicas_of(peer_namespace) == 2, what="drift repaired")
        time.sleep(2)
        assert "was changed outside the operator" in logs[0].read_text()
        assert "shopmesh_operator" not in logs[1].read_text(), "the standby acted"

        high.kill()
        high.wait(timeout=10)
        # kopf peers expire a silent peer after its lifetime; then the standby resumes.
        wait_for(
            lambda: "Resuming operations" in logs[1].read_text(),
            what="standby resumed",
            timeout=120,
        )
        time.sleep(4)  # our own gate caches the peering state for a few seconds
        kubectl("scale", "deployment", "web", "-n", peer_namespace, "--replicas=4")
        wait_for(
            lambda: "was changed outside the operator" in logs[1].read_text(),
            what="drift repaired by the former standby",
            timeout=30,
        )
        wait_for(lambda: replicas_of(peer_namespace) == 2, what="replicas restored")
    finally:
        for proc in (high, low):
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)


@pytest.mark.disruptive
def test_operator_survives_an_api_server_restart(operator: Any, namespace: str) -> None:
    apply(microservice("web", namespace))
    wait_for(lambda: condition(get("msvc", "web", namespace), "Ready"), what="Ready", timeout=90)
    restart_api_server()
    wait_for(
        lambda: kubectl("get", "--raw", "/readyz", check=False).returncode == 0,
        what="API server back",
        timeout=120,
    )
    assert operator.alive()
    kubectl("scale", "deployment", "web", "-n", namespace, "--replicas=5")
    wait_for(
        lambda: replicas_of(namespace) == 2, what="drift repaired after the restart", timeout=90
    )
    # And the whole pipeline works again: a new Microservice becomes Ready.
    apply(microservice("after", namespace))
    wait_for(
        lambda: (condition(get("msvc", "after", namespace), "Ready") or {}).get("status") == "True",
        what="a Microservice created after the restart to become Ready",
        timeout=180,
    )
