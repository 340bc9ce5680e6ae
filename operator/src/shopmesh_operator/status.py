"""Pure status calculation: from the Deployment as it is, the Microservice status.

Conditions follow the Kubernetes convention (type, status, reason, message,
lastTransitionTime) and keep their transition time while their status stays.
While the Deployment has not rolled out, the pods say why (pod_health.py): a
problem found there replaces the generic "rolling out" reason of Ready and
Progressing and sets Degraded at once (pod_health only reports a readiness
probe after its grace), so `kubectl get msvc` shows ImagePullFailed within
seconds rather than ProgressDeadlineExceeded after ten minutes. A held release
(rolling.py) is judged against the image that runs: rolled back is Degraded with the
reason; undone by a user is OutOfSync, and Ready when the pods are.
Used by reconcile.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from shopmesh_operator.canary import CanaryPlan
from shopmesh_operator.models import (
    Condition,
    ConditionType,
    HeldRelease,
    Microservice,
    MicroserviceStatus,
    Phase,
)
from shopmesh_operator.pod_health import PodProblem, diagnose_pods
from shopmesh_operator.rolling import image_of, release_status


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def calculate_status(
    ms: Microservice,
    deployment: dict[str, Any] | None,
    *,
    out_of_sync: str | None = None,
    held: HeldRelease | None = None,
    pods: Sequence[dict[str, Any]] = (),
    pod_events: Sequence[dict[str, Any]] = (),
    now: str | None = None,
    release: CanaryPlan | None = None,
) -> MicroserviceStatus:
    """Status of `ms` given its live Deployment (None when it does not exist yet).

    `out_of_sync` says why some child could not be brought in line with the spec
    (for example an allowed caller that does not exist); None when all are.
    `pods` and `pod_events` are the Deployment's pods and their Events, read only
    while it is not Ready; they explain a rollout that does not progress.
    `held` is the release the operator holds back (rolled back, undone by a user, or an
    aborted canary). `release` is this pass's canary release (canary.py): while one runs,
    the stable Deployment is judged on the image it runs, and the phase is Progressing
    (or Paused) with the release's progress as the message.
    """
    stamp = now or now_iso()
    problem = diagnose_pods(pods, pod_events, now=datetime.fromisoformat(stamp)) if pods else None
    canary = release.state if release else None
    image = held.running_image if held else ms.spec.image
    if canary is not None and deployment is not None:
        image = image_of(deployment.get("spec", {}).get("template", {}))
    phase, ready, progressing, degraded = _judge(ms, deployment, problem, image)
    if canary is not None and release is not None and phase not in ("Degraded", "Failed"):
        phase = "Paused" if canary.paused else "Progressing"
        reason = canary.paused or canary.strategy
        progressing = _cond("Progressing", True, reason, release.progress or "")
    if held is not None and held.reason in ("RolledBack", "Aborted"):
        phase = "Degraded"
        ready = _cond("Ready", ready.status == "True", held.reason, held.message)
        progressing = _cond("Progressing", False, held.reason, held.message)
        degraded = _cond("Degraded", True, held.reason, held.message)
    sync = _sync_condition(out_of_sync, held)
    dstatus = (deployment or {}).get("status", {})
    previous = ms.status
    generation = ms.metadata.generation
    dspec = (deployment or {}).get("spec", {})
    return MicroserviceStatus(
        observed_generation=generation,
        phase=phase,
        replicas=dspec.get("replicas", ms.spec.replicas)
        if ms.spec.autoscaling
        else ms.spec.replicas,
        ready_replicas=dstatus.get("readyReplicas", 0),
        updated_replicas=dstatus.get("updatedReplicas", 0),
        conditions=tuple(
            _carry_time(previous.condition(cond.type), cond, stamp, generation)
            for cond in (ready, progressing, degraded, sync)
        ),
        rollout=release_status(
            ms,
            held,
            available=phase == "Ready" and held is None and canary is None,
            now=stamp,
            release=canary,
            steered=release.steered if release else ms.status.rollout.steered,
        ),
    )


def _sync_condition(out_of_sync: str | None, held: HeldRelease | None) -> Condition:
    if held is not None:
        message = f"{held.message}; {out_of_sync}" if out_of_sync else held.message
        return _cond("OutOfSync", True, held.reason, message)
    if out_of_sync:
        return _cond("OutOfSync", True, "UnknownCaller", out_of_sync)
    return _cond("OutOfSync", False, "Synced", "every child matches the spec")


def calculate_failed_status(ms: Microservice, *, reason: str, message: str) -> MicroserviceStatus:
    """Status when the children could not be applied; the last good children stay.

    The top-level observedGeneration is left alone: this generation was not
    rolled out. The conditions carry the generation they judged.
    """
    stamp = now_iso()
    generation = ms.metadata.generation
    conditions: tuple[Condition, ...] = (
        Condition(type="Ready", status="False", reason=reason, message=message),
        Condition(type="Progressing", status="False", reason=reason, message=message),
        Condition(type="Degraded", status="True", reason=reason, message=message),
    )
    sync = ms.status.condition("OutOfSync")
    if sync is not None:  # what the last good pass knew still holds
        conditions += (sync,)
    return ms.status.model_copy(
        update={
            "phase": "Failed",
            "conditions": tuple(
                _carry_time(ms.status.condition(c.type), c, stamp, generation) for c in conditions
            ),
        }
    )


def _judge(
    ms: Microservice, deployment: dict[str, Any] | None, problem: PodProblem | None, image: str
) -> tuple[Phase, Condition, Condition, Condition]:
    if deployment is None:
        msg = "waiting for the Deployment to be created"
        return (
            "Pending",
            _cond("Ready", False, "DeploymentMissing", msg),
            _cond("Progressing", True, "Creating", msg),
            _cond("Degraded", False, "AsExpected", ""),
        )
    spec = deployment.get("spec", {})
    status = deployment.get("status", {})
    # With autoscaling the HPA owns the count: judge against what the Deployment asks for.
    want = spec.get("replicas", ms.spec.replicas) if ms.spec.autoscaling else ms.spec.replicas
    updated = status.get("updatedReplicas", 0)
    available = status.get("availableReplicas", 0)
    total = status.get("replicas", 0)
    caught_up = status.get("observedGeneration", 0) >= deployment["metadata"].get("generation", 0)
    image_current = image_of(spec.get("template", {})) == image
    deadline = _deployment_condition(deployment, "Progressing")
    if deadline and deadline.get("reason") == "ProgressDeadlineExceeded":
        msg = deadline.get("message", "the rollout exceeded its progress deadline")
        serving = available >= want and want > 0  # the old pods still serve
        why = f"{problem.message} ({msg})" if problem else msg
        stalled = "RolloutStalled" if serving or problem is None else problem.reason
        return (
            "Degraded",
            _cond("Ready", serving, stalled, why),
            _cond("Progressing", False, "ProgressDeadlineExceeded", msg),
            _cond("Degraded", True, problem.reason if problem else "ProgressDeadlineExceeded", why),
        )
    if caught_up and image_current and updated == want and available == want and total == want:
        msg = f"{available}/{want} replicas available"
        return (
            "Ready",
            _cond("Ready", True, "Available", msg),
            _cond("Progressing", False, "RolloutComplete", msg),
            _cond("Degraded", False, "AsExpected", ""),
        )
    msg = f"rolling out: {updated}/{want} updated, {available}/{want} available"
    if problem:
        why = f"{problem.message} ({msg})"
        return (
            "Degraded",
            _cond("Ready", False, problem.reason, why),
            _cond("Progressing", True, problem.reason, why),
            _cond("Degraded", True, problem.reason, problem.message),
        )
    return (
        "Progressing",
        _cond("Ready", False, "RollingOut", msg),
        _cond("Progressing", True, "RollingOut", msg),
        _cond("Degraded", False, "AsExpected", ""),
    )


def _deployment_condition(deployment: dict[str, Any], type_: str) -> dict[str, Any] | None:
    for cond in deployment.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def _cond(type_: ConditionType, status: bool, reason: str, message: str) -> Condition:
    return Condition(
        type=type_, status="True" if status else "False", reason=reason, message=message
    )


def _carry_time(old: Condition | None, new: Condition, stamp: str, generation: int) -> Condition:
    keep = old is not None and old.status == new.status and old.last_transition_time
    return new.model_copy(
        update={
            "last_transition_time": old.last_transition_time if keep and old else stamp,
            "observed_generation": generation,
        }
    )


def status_patch(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """The JSON merge patch (RFC 7386) from status `before` to `after`: `after` itself plus
    a null for every key it dropped (a merge patch keeps keys it does not mention, so a
    held release would otherwise outlive the pass that cleared it). Lists are replaced
    whole, as merge patches do."""
    patch: dict[str, Any] = {}
    for key, value in after.items():
        old = before.get(key)
        patch[key] = (
            status_patch(old, value) if isinstance(value, dict) and isinstance(old, dict) else value
        )
    for key in before.keys() - after.keys():
        patch[key] = None
    return patch
