"""The status as the cluster shows it, reading the pods only while they need explaining.

A Ready Microservice costs no read beyond its Deployment (idle means idle). One
whose Deployment has not rolled out gets one LIST of its pods by the Deployment's
selector and, for each pod whose container has run past its grace without passing
the readiness probe, one LIST of that pod's `Unhealthy` Events, because the
probe's answer is recorded nowhere else. When a container is still inside that
grace, the result says when the grace ends (`LiveStatus.recheck_in`) and reconcile
books a re-check then (requeue.py), since nothing in the cluster changes at that
moment. The reads only explain the status: one the API refuses leaves the status
with the replica counts alone, and the reconcile goes on.
What the pods mean is pod_health.py's business, the conditions status.py's.
Used by reconcile.py.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shopmesh_operator.apply import ApplyError, ClusterApi
from shopmesh_operator.canary import CanaryPlan
from shopmesh_operator.models import HeldRelease, Microservice, MicroserviceStatus
from shopmesh_operator.pod_health import readiness_suspects, seconds_until_recheck
from shopmesh_operator.render.metadata import build_selector_labels
from shopmesh_operator.status import calculate_status, now_iso

log = logging.getLogger(__name__)

#: At most this many pods' Events are read per pass; the status names one pod anyway.
MAX_EVENT_READS = 3


@dataclass(frozen=True)
class PodsSeen:
    pods: tuple[dict[str, Any], ...] = ()
    events: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class LiveStatus:
    """The status, and in how many seconds to look again if only time will change it."""

    status: MicroserviceStatus
    recheck_in: float | None = None


async def calculate_live_status(
    ms: Microservice,
    deployment: dict[str, Any] | None,
    *,
    out_of_sync: str | None,
    held: HeldRelease | None = None,
    release: CanaryPlan | None = None,
    api: ClusterApi,
) -> LiveStatus:
    """The status of `ms`; while its Deployment has not rolled out, its pods say why."""
    status = calculate_status(ms, deployment, out_of_sync=out_of_sync, held=held, release=release)
    if status.phase in ("Ready", "Progressing", "Paused") and release and release.state:
        return LiveStatus(status)  # a canary release: the stable pods serve, nothing to explain
    if status.phase == "Ready" or deployment is None:
        return LiveStatus(status)
    stamp = now_iso()
    now = datetime.fromisoformat(stamp)
    seen = await read_pods(ms, api, now=now)
    status = calculate_status(
        ms,
        deployment,
        out_of_sync=out_of_sync,
        held=held,
        pods=seen.pods,
        pod_events=seen.events,
        now=stamp,
        release=release,
    )
    return LiveStatus(status, recheck_in=seconds_until_recheck(seen.pods, now=now))


async def read_pods(ms: Microservice, api: ClusterApi, *, now: datetime) -> PodsSeen:
    """The Deployment's pods and, where a readiness probe keeps failing, their Events."""
    namespace = ms.metadata.namespace
    try:
        pods = tuple(await api.list_pods(namespace, build_selector_labels(ms)))
    except ApplyError as err:
        log.warning("%s/%s: cannot read pods: %s", namespace, ms.metadata.name, err.message)
        return PodsSeen()
    events: list[dict[str, Any]] = []
    for pod in readiness_suspects(pods, now=now)[:MAX_EVENT_READS]:
        try:
            events.extend(await api.list_pod_events(namespace, pod, reason="Unhealthy"))
        except ApplyError as err:
            log.warning("%s/%s: cannot read events: %s", namespace, ms.metadata.name, err.message)
            break
    return PodsSeen(pods, tuple(events))
