"""Pods and kubelet Events as the API server returns them (trimmed to what matters),
for the pod_health, status and reconcile tests.

`pod(...)` builds a pod of shop/cart's Deployment with one container `app`; the
container's status is one of the `*_STATE` helpers below, whose messages are the
kubelet's (Kubernetes 1.35) and the scheduler's, copied from real clusters.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shopmesh_operator import constants as c

NOW = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)
IMAGE = "docker.io/shopmesh/nope:1"
HASH = "7f9c6d8b5"


def stamp(seconds_ago: float, now: datetime = NOW) -> str:
    return (now - timedelta(seconds=seconds_ago)).isoformat().replace("+00:00", "Z")


def pod(
    name: str = f"cart-{HASH}-abcde",
    *,
    container: dict[str, Any] | None = None,
    conditions: list[dict[str, Any]] | None = None,
    phase: str = "Pending",
    template_hash: str = HASH,
    created: float = 60,
    now: datetime = NOW,
    memory_limit: str | None = None,
    **metadata: Any,
) -> dict[str, Any]:
    resources = {"limits": {"memory": memory_limit}} if memory_limit else {}
    status: dict[str, Any] = {"phase": phase, "conditions": conditions or scheduled()}
    if container is not None:
        status["containerStatuses"] = [container]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "shop",
            "uid": f"uid-{name}",
            "creationTimestamp": stamp(created, now),
            "labels": {
                c.LABEL_NAME: "cart",
                c.LABEL_INSTANCE: "cart",
                c.LABEL_MANAGED_BY: c.MANAGED_BY,
                c.LABEL_MICROSERVICE: "cart",
                "pod-template-hash": template_hash,
            },
            "ownerReferences": [{"kind": "ReplicaSet", "name": f"cart-{template_hash}"}],
            **metadata,
        },
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "image": IMAGE,
                    "imagePullPolicy": "IfNotPresent",
                    "readinessProbe": {
                        "httpGet": {"path": "/health/ready", "port": "http", "scheme": "HTTP"},
                        "periodSeconds": 5,
                        "failureThreshold": 3,
                    },
                    "resources": resources,
                }
            ]
        },
        "status": status,
    }


def scheduled() -> list[dict[str, Any]]:
    return [
        {"type": "PodScheduled", "status": "True", "lastTransitionTime": stamp(59)},
        {
            "type": "Ready",
            "status": "False",
            "reason": "ContainersNotReady",
            "message": "containers with unready status: [app]",
        },
    ]


UNSCHEDULABLE = [
    {
        "type": "PodScheduled",
        "status": "False",
        "reason": "Unschedulable",
        "message": "0/3 nodes are available: 1 Insufficient memory, 2 node(s) had untolerated "
        "taint {kwok.x-k8s.io/node: fake}. preemption: 0/3 nodes are available: 1 No "
        "preemption victims found for incoming pod, 2 Preemption is not helpful for scheduling.",
    }
]


def container(
    state: dict[str, Any],
    *,
    ready: bool = False,
    restarts: int = 0,
    last: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "name": "app",
        "image": IMAGE,
        "imageID": "",
        "ready": ready,
        "started": "running" in state,
        "restartCount": restarts,
        "state": state,
        "lastState": last or {},
    }


PULL_ERROR = (
    'failed to pull and unpack image "docker.io/shopmesh/nope:1": failed to resolve reference '
    '"docker.io/shopmesh/nope:1": failed to do request: Head '
    '"https://registry-1.docker.io/v2/shopmesh/nope/manifests/1": dial tcp: lookup '
    "registry-1.docker.io on 10.96.0.10:53: server misbehaving"
)
ERR_IMAGE_PULL = {
    "waiting": {
        "reason": "ErrImagePull",
        "message": f"rpc error: code = Unknown desc = {PULL_ERROR}",
    }
}
IMAGE_PULL_BACKOFF = {
    "waiting": {
        "reason": "ImagePullBackOff",
        "message": f'Back-off pulling image "{IMAGE}": ErrImagePull: rpc error: code = Unknown '
        f"desc = {PULL_ERROR}",
    }
}
CREATING = {"waiting": {"reason": "ContainerCreating"}}
CONFIG_ERROR = {
    "waiting": {
        "reason": "CreateContainerConfigError",
        "message": "couldn't find key password in Secret shop/cart-db",
    }
}
CRASH_LOOP = {
    "waiting": {
        "reason": "CrashLoopBackOff",
        "message": "back-off 40s restarting failed container=app pod=cart-7f9c6d8b5-abcde_shop"
        "(uid-cart-7f9c6d8b5-abcde)",
    }
}
EXITED_1 = {
    "terminated": {
        "exitCode": 1,
        "reason": "Error",
        "message": "sqlalchemy.exc.OperationalError: connection refused",
        "startedAt": stamp(20),
        "finishedAt": stamp(18),
    }
}
OOM_KILLED = {
    "terminated": {
        "exitCode": 137,
        "reason": "OOMKilled",
        "startedAt": stamp(20),
        "finishedAt": stamp(18),
    }
}


def running(seconds_ago: float, now: datetime = NOW) -> dict[str, Any]:
    return {"running": {"startedAt": stamp(seconds_ago, now)}}


def unhealthy(
    pod_name: str = f"cart-{HASH}-abcde",
    *,
    message: str = "Readiness probe failed: HTTP probe failed with statuscode: 404",
    last_seen: float = 2,
    count: int = 9,
) -> dict[str, Any]:
    """An Unhealthy Event as the kubelet records it (core/v1, with a repeat count)."""
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{pod_name}.18a2b3c4d5e6f708", "namespace": "shop"},
        "involvedObject": {
            "apiVersion": "v1",
            "kind": "Pod",
            "name": pod_name,
            "namespace": "shop",
            "uid": f"uid-{pod_name}",
            "fieldPath": "spec.containers{app}",
        },
        "reason": "Unhealthy",
        "message": message,
        "type": "Warning",
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": stamp(45),
        "lastTimestamp": stamp(last_seen),
        "count": count,
    }
