"""The Deployment that runs a Microservice's pods.

Zero-downtime defaults: maxUnavailable 0, a preStop pause so endpoints drain
before the process stops, and a grace period longer than that pause. Pods run
non-root with a read-only root filesystem, no privilege escalation and every
capability dropped; a writable /tmp is mounted as emptyDir.
Used by render/__init__.py.
"""

from __future__ import annotations

from typing import Any

from shopmesh_operator import constants as c
from shopmesh_operator.models import EnvVar, Microservice
from shopmesh_operator.render.metadata import build_labels, build_metadata, build_selector_labels

PRESTOP_PAUSE_SECONDS = 5
TERMINATION_GRACE_SECONDS = 30
# The UID the project's images are built for (Dockerfile, ci/images) and the chart uses.
RUN_AS_USER = 65532
# How long a container may take to answer its liveness path once before it is restarted.
STARTUP_PROBE_SECONDS = 120


def build_deployment(ms: Microservice) -> dict[str, Any]:
    """The Deployment; without `replicas` when an HPA owns the count."""
    spec: dict[str, Any] = {} if ms.spec.autoscaling else {"replicas": ms.spec.replicas}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": build_metadata(ms),
        "spec": {
            **spec,
            "revisionHistoryLimit": 10,
            # Past it, the operator rolls the release back (rolling.py).
            "progressDeadlineSeconds": ms.spec.rollout.progress_deadline_seconds,
            "selector": {"matchLabels": build_selector_labels(ms)},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": 0, "maxSurge": "25%"},
            },
            "template": {
                "metadata": {
                    "labels": {**build_labels(ms), c.LABEL_TRACK: c.TRACK_STABLE},
                    "annotations": build_scrape_annotations(ms),
                },
                "spec": _build_pod_spec(ms),
            },
        },
    }


def canary_name(ms: Microservice, strategy: str | None = None) -> str:
    """The second Deployment of a release (`strategy`, default the spec's):
    `<name>-canary`, or `<name>-preview` for BlueGreen; its pods' names start with it
    and a dash."""
    return f"{ms.metadata.name}-{release_track(strategy or ms.spec.rollout.strategy)}"


def release_track(strategy: str) -> str:
    """The track label of a release's new pods under `strategy`."""
    return c.TRACK_PREVIEW if strategy == "BlueGreen" else c.TRACK_CANARY


def build_canary_deployment(ms: Microservice, replicas: int) -> dict[str, Any]:
    """The second Deployment of a release (canary.py): the spec's pods, labelled with the
    canary track (behind the same Service) or the preview track (BlueGreen: behind the
    `<name>-preview` Service, until the switch). Its selector adds the track, so the two
    Deployments never count each other's pods."""
    stable = build_deployment(ms)
    track = release_track(ms.spec.rollout.strategy)
    selector = {**build_selector_labels(ms), c.LABEL_TRACK: track}
    template = stable["spec"]["template"]
    labels = {**template["metadata"]["labels"], c.LABEL_TRACK: track}
    return {
        **stable,
        "metadata": build_metadata(ms, name=canary_name(ms)),
        "spec": {
            **{k: v for k, v in stable["spec"].items() if k != "replicas"},
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {**template, "metadata": {**template["metadata"], "labels": labels}},
        },
    }


def build_scrape_annotations(ms: Microservice) -> dict[str, str]:
    """Where the pod's metrics are, in the prometheus.io convention. In an Istio mesh,
    metrics merging (on by default) reads these, rewrites them to the sidecar agent's
    :15020/stats/prometheus and serves the app's metrics there too: Prometheus scrapes it
    in plain text, outside STRICT mTLS and the AuthorizationPolicy, which keep denying
    every other caller of the app port. Without a mesh, annotation-based scrape jobs use
    them as they are."""
    return {
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(ms.spec.port),
        "prometheus.io/path": c.METRICS_PATH,
    }


def _build_pod_spec(ms: Microservice) -> dict[str, Any]:
    return {
        "serviceAccountName": ms.metadata.name,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": TERMINATION_GRACE_SECONDS,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "runAsGroup": RUN_AS_USER,
            "fsGroup": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [_build_container(ms)],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }


def _build_container(ms: Microservice) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": "app",
        "image": ms.spec.image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": ms.spec.port, "protocol": "TCP"}],
        "readinessProbe": _build_probe(ms.spec.probes.readiness, period=5, failures=3),
        "livenessProbe": _build_probe(ms.spec.probes.liveness, period=10, failures=3),
        # Liveness waits until the app has started once: a service may wait for its
        # database at start (SHOPMESH_STARTUP_WAIT_SECONDS) and must not be killed for it.
        "startupProbe": _build_probe(
            ms.spec.probes.liveness, period=2, failures=STARTUP_PROBE_SECONDS // 2
        ),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRESTOP_PAUSE_SECONDS}}},
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if ms.spec.env:
        container["env"] = [_build_env_var(var) for var in ms.spec.env]
    resources = ms.spec.resources.model_dump(exclude_defaults=True)
    if resources:
        container["resources"] = resources
    return container


def _build_probe(path: str, *, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "failureThreshold": failures,
        "timeoutSeconds": 2,
    }


def _build_env_var(var: EnvVar) -> dict[str, Any]:
    return var.model_dump(by_alias=True, exclude_none=True)
