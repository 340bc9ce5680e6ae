"""Why a Microservice's pods do not become ready, read from the pods themselves.

The Deployment only counts available replicas; why a pod is not one is in the
pod's status (an image that cannot be pulled, a missing Secret key, a container
that keeps exiting or runs out of memory, no node with room) and, for a readiness
probe that never passes, only in the kubelet's `Unhealthy` Events. `diagnose_pods`
reads both and names the most telling problem, so the status says why within
seconds instead of after the Deployment's 600 s progress deadline.

Pure: pods and Events are dicts as the API returns them, and the time is an
argument. Only the pods of the newest ReplicaSet are judged (the pod-template-hash
of the most recently created pod), so an old pod still failing after a fix does
not hide that the new one is merely starting. A container that runs but is not
ready only counts after READINESS_GRACE_SECONDS, since every start looks like
that for a moment. Messages leave out whatever changes from one look to the next
(restart counts, back-off delays, ages: a start time instead), so a problem that
lasts is written to status once.

Used by status.py (the conditions), pods.py (whose Events to read) and
reconcile.py (when to look again).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, get_args

#: Most telling first: when pods fail in different ways, the first one listed is reported.
ProblemReason = Literal[
    "ConfigError",
    "ImagePullFailed",
    "OOMKilled",
    "CrashLoop",
    "Unschedulable",
    "ReadinessProbeFailing",
]
SEVERITY: tuple[ProblemReason, ...] = get_args(ProblemReason)

#: How long a container may run without passing its readiness probe before that is
#: a problem: a normal start takes a few seconds, not five failed probes (every 5 s).
READINESS_GRACE_SECONDS = 25.0
#: Added to a re-check delay so the look happens just after the grace, not just before.
RECHECK_MARGIN_SECONDS = 1.0
#: The kubelet's waiting reasons for an image it cannot get.
IMAGE_PULL_REASONS = frozenset(
    {"ErrImagePull", "ImagePullBackOff", "InvalidImageName", "ErrImageNeverPull"}
)
#: The kubelet's waiting reasons for a container it cannot create or start from its spec.
CONFIG_REASONS = frozenset(
    {"CreateContainerConfigError", "CreateContainerError", "RunContainerError"}
)
TEMPLATE_HASH_LABEL = "pod-template-hash"
MAX_DETAIL = 400

# Since Kubernetes 1.32 the back-off message carries the pull error it waits on:
# 'Back-off pulling image "x": ErrImagePull: rpc error: code = NotFound desc = failed to ...'.
# Stripping the wrappers gives the ErrImagePull message itself, so the status does not
# change each time the kubelet switches between the two.
_BACKOFF = re.compile(
    r'^Back-off pulling image "[^"]*": (?:(?:ErrImagePull|RegistryUnavailable|'
    r"SignatureValidationFailed): )?"
)
_GRPC = re.compile(r"^rpc error: code = \w+ desc = ")


@dataclass(frozen=True)
class PodProblem:
    reason: ProblemReason
    message: str


def diagnose_pods(
    pods: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]] = (), *, now: datetime
) -> PodProblem | None:
    """The most telling problem among the current pods; None when nothing is wrong (yet).

    `events` are the pods' Events (only `Unhealthy` ones matter); the message names
    the first pod with that problem and, when there are several pods, how many share it.
    """
    current = current_pods(pods)
    found: dict[ProblemReason, list[PodProblem]] = {}
    for pod in current:
        problem = _diagnose_pod(pod, events, now)
        if problem is not None:
            found.setdefault(problem.reason, []).append(problem)
    for reason in SEVERITY:
        if reason in found:
            first, count = found[reason][0], len(found[reason])
            suffix = f" ({count}/{len(current)} pods)" if len(current) > 1 else ""
            return PodProblem(reason, first.message + suffix)
    return None


def readiness_suspects(pods: Sequence[dict[str, Any]], *, now: datetime) -> list[str]:
    """Current pods that run past the grace without passing their readiness probe:
    the ones whose `Unhealthy` Events are worth reading."""
    return [
        pod["metadata"]["name"]
        for pod in current_pods(pods)
        if (problem := _diagnose_pod(pod, (), now)) and problem.reason == "ReadinessProbeFailing"
    ]


def seconds_until_recheck(pods: Sequence[dict[str, Any]], *, now: datetime) -> float | None:
    """When a running, not yet ready container's grace runs out; None if none is waiting.

    Nothing in the cluster changes at that moment, so reconcile asks to look again then.
    """
    waits = [
        (started - now).total_seconds() + READINESS_GRACE_SECONDS
        for pod in current_pods(pods)
        for status in _container_statuses(pod)
        if not status.get("ready") and (started := _running_since(status)) is not None
    ]
    pending = [wait for wait in waits if wait > 0]
    return min(pending) + RECHECK_MARGIN_SECONDS if pending else None


def current_pods(pods: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The live pods of the newest ReplicaSet, by name (terminating and finished ones left out)."""
    live = [
        pod
        for pod in pods
        if not pod.get("metadata", {}).get("deletionTimestamp")
        and pod.get("status", {}).get("phase") not in ("Succeeded", "Failed")
    ]
    if not live:
        return []
    newest = max(live, key=lambda p: (p["metadata"].get("creationTimestamp", ""), _name(p)))
    template = _labels(newest).get(TEMPLATE_HASH_LABEL)
    return sorted(
        (pod for pod in live if _labels(pod).get(TEMPLATE_HASH_LABEL) == template), key=_name
    )


def _diagnose_pod(
    pod: dict[str, Any], events: Iterable[dict[str, Any]], now: datetime
) -> PodProblem | None:
    scheduled = _pod_condition(pod, "PodScheduled")
    if scheduled.get("status") == "False" and scheduled.get("reason") == "Unschedulable":
        detail = _clip(scheduled.get("message") or "no node fits")
        return PodProblem("Unschedulable", f"pod {_name(pod)} cannot be scheduled: {detail}")
    problems = [
        problem
        for status in _container_statuses(pod)
        if (problem := _diagnose_container(pod, status, events, now)) is not None
    ]
    return min(problems, key=lambda p: SEVERITY.index(p.reason), default=None)


def _diagnose_container(
    pod: dict[str, Any], status: dict[str, Any], events: Iterable[dict[str, Any]], now: datetime
) -> PodProblem | None:
    if status.get("ready"):
        return None
    pod_name, container = _name(pod), status.get("name", "?")
    state = status.get("state") or {}
    waiting = state.get("waiting") or {}
    waiting_reason = waiting.get("reason", "")
    if waiting_reason in IMAGE_PULL_REASONS:
        image = status.get("image") or _spec_container(pod, container).get("image", "?")
        detail = _clip(_pull_error(waiting.get("message") or waiting_reason))
        return PodProblem(
            "ImagePullFailed", f'pod {pod_name}: image "{image}" cannot be pulled: {detail}'
        )
    if waiting_reason in CONFIG_REASONS:
        detail = _clip(waiting.get("message") or waiting_reason)
        return PodProblem(
            "ConfigError", f"pod {pod_name}: container {container} cannot start: {detail}"
        )
    ended = state.get("terminated") or (status.get("lastState") or {}).get("terminated")
    if ended and ended.get("reason") == "OOMKilled":
        limit = _spec_container(pod, container).get("resources", {}).get("limits", {})
        memory = f" of {limit['memory']}" if "memory" in limit else ""
        return PodProblem(
            "OOMKilled",
            f"pod {pod_name}: container {container} was killed for exceeding its memory "
            f"limit{memory} (exit code {ended.get('exitCode', 137)})",
        )
    crashed = ended is not None and ended.get("exitCode", 0) != 0
    if waiting_reason == "CrashLoopBackOff" or (crashed and state.get("terminated")):
        return _crash_loop(pod_name, container, ended)
    started = _running_since(status)
    if started is None:
        return None
    if crashed and status.get("restartCount", 0) > 0:  # up again between two crashes
        return _crash_loop(pod_name, container, ended)
    if (now - started).total_seconds() < READINESS_GRACE_SECONDS:
        return None
    since = state["running"]["startedAt"]
    failure = _last_probe_failure(pod, container, events)
    detail = _clip(failure) if failure else f"{_describe_probe(pod, container)} has not passed"
    return PodProblem(
        "ReadinessProbeFailing",
        f"pod {pod_name}: container {container} running since {since} but not ready: {detail}",
    )


def _crash_loop(pod_name: str, container: str, ended: dict[str, Any] | None) -> PodProblem:
    if not ended:
        return PodProblem("CrashLoop", f"pod {pod_name}: container {container} keeps exiting")
    why = f"exit code {ended.get('exitCode', '?')} ({ended.get('reason') or 'Error'})"
    said = (ended.get("message") or "").strip()
    return PodProblem(
        "CrashLoop",
        f"pod {pod_name}: container {container} keeps exiting: {why}"
        + (f": {_clip(said)}" if said else ""),
    )


def _last_probe_failure(
    pod: dict[str, Any], container: str, events: Iterable[dict[str, Any]]
) -> str | None:
    """The message of the latest readiness-probe failure the kubelet reported for the pod."""
    meta = pod["metadata"]
    matching = [
        event
        for event in events
        if event.get("reason") == "Unhealthy"
        and str(event.get("message", "")).startswith("Readiness probe")
        and _is_about(event.get("involvedObject") or {}, meta, container)
    ]
    if not matching:
        return None
    return str(max(matching, key=_event_time)["message"]).strip()


def _is_about(involved: dict[str, Any], meta: dict[str, Any], container: str) -> bool:
    if involved.get("name") != meta.get("name"):
        return False
    if involved.get("uid") and meta.get("uid") and involved["uid"] != meta["uid"]:
        return False  # an earlier pod of the same name
    path = involved.get("fieldPath")
    return not path or path == f"spec.containers{{{container}}}"


def _event_time(event: dict[str, Any]) -> str:
    # Core Events carry lastTimestamp; events.k8s.io ones a series or only an eventTime.
    series = event.get("series") or {}
    return str(
        event.get("lastTimestamp")
        or series.get("lastObservedTime")
        or event.get("eventTime")
        or event.get("firstTimestamp")
        or ""
    )


def _describe_probe(pod: dict[str, Any], container: str) -> str:
    get = (_spec_container(pod, container).get("readinessProbe") or {}).get("httpGet")
    if not get:
        return "its readiness probe"
    return f"its readiness probe (GET {get.get('path', '/')} on port {get.get('port', '?')})"


def _pull_error(message: str) -> str:
    return _GRPC.sub("", _BACKOFF.sub("", message.strip()))


def _running_since(status: dict[str, Any]) -> datetime | None:
    running = (status.get("state") or {}).get("running") or {}
    stamp = running.get("startedAt")
    return datetime.fromisoformat(stamp) if stamp else None


def _container_statuses(pod: dict[str, Any]) -> list[dict[str, Any]]:
    status = pod.get("status", {})
    return [*(status.get("initContainerStatuses") or []), *(status.get("containerStatuses") or [])]


def _spec_container(pod: dict[str, Any], name: str) -> dict[str, Any]:
    spec = pod.get("spec", {})
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        if container.get("name") == name:
            return dict(container)
    return {}


def _pod_condition(pod: dict[str, Any], type_: str) -> dict[str, Any]:
    for cond in pod.get("status", {}).get("conditions") or []:
        if cond.get("type") == type_:
            return dict(cond)
    return {}


def _labels(pod: dict[str, Any]) -> dict[str, str]:
    return dict(pod.get("metadata", {}).get("labels") or {})


def _name(pod: dict[str, Any]) -> str:
    return str(pod.get("metadata", {}).get("name", "?"))


def _clip(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_DETAIL else text[: MAX_DETAIL - 1] + "…"
