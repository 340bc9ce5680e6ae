"""The Rolling release, pure: which pod template the Deployment gets this pass, and what
the status must remember about the release.

Three things can happen to a release besides rolling out:

- **Progress deadline.** The Deployment carries `rollout.progressDeadlineSeconds`; when
  its controller reports `ProgressDeadlineExceeded` for the spec's template, the new
  pods never became ready in time. The operator puts back the template of the last
  release that was fully available (`status.rollout.stableImage`, else the newest
  earlier revision), exactly as `kubectl rollout undo` would, and holds it.
- **`kubectl rollout undo`.** A user put an earlier revision's template back. The
  operator does not re-apply the newer one: it holds the running template and reports
  `OutOfSync` with the image that actually runs.
- **Drift.** Any other change to the template is repaired, like drift on any child.

An undo is told from drift by the Deployment's own history: the running template is
the template of one of its ReplicaSets that is older than the newest one (before the
Deployment controller has caught up) or that carries `revision-history` (after: the
controller re-used it for a new revision). A held release lasts until the Microservice
spec changes: a new generation is a new release, rendered and applied as usual.

Used by plan.py (the decision) and status.py (`release_status`); reconcile.py reads the
ReplicaSets only when `needs_history` says so, so an idle operator reads nothing more.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shopmesh_operator.drift import find_drift
from shopmesh_operator.models import (
    HeldReason,
    HeldRelease,
    Microservice,
    Release,
    ReleaseState,
    RolloutStatus,
)

#: How many releases status.rollout.history keeps.
HISTORY_LENGTH = 10
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
TEMPLATE_HASH = "pod-template-hash"


@dataclass(frozen=True)
class RollingPlan:
    """The Deployment to sync and what became of the release."""

    deployment: dict[str, Any]
    #: The release the operator holds back this pass (None: the spec's template applies).
    held: HeldRelease | None = None
    #: Whether this pass puts an earlier revision back (the Deployment change is a rollback).
    rolls_back: bool = False


def spec_changed(ms: Microservice) -> bool:
    """Whether the Microservice changed since the last pass that judged it."""
    return ms.status.observed_generation != ms.metadata.generation


def needs_history(ms: Microservice, rendered: dict[str, Any], live: dict[str, Any] | None) -> bool:
    """Whether planning needs the Deployment's ReplicaSets this pass."""
    if live is None or spec_changed(ms):
        return False
    held = ms.status.rollout.held
    if ms.status.rollout.release is not None or (held is not None and held.reason == "Aborted"):
        return False  # a canary release in progress or aborted (canary.py) is no undo
    return _template_differs(rendered, live) or _deadline_exceeded(live)


def plan_rolling(
    ms: Microservice,
    rendered: dict[str, Any],
    live: dict[str, Any] | None,
    replica_sets: Sequence[dict[str, Any]],
    *,
    now: str,
) -> RollingPlan:
    """The Deployment for this pass: the rendered one, or it with an earlier template."""
    if live is None or spec_changed(ms):
        return RollingPlan(rendered)  # a new release: the spec's template
    running = live["spec"]["template"]
    if _template_differs(rendered, live):
        if not _went_back(running, replica_sets):
            return RollingPlan(rendered)  # drift: repaired like any other
        message = (
            f"kubectl rollout undo: {image_of(running)} runs, the spec asks for "
            f"{ms.spec.image}; the operator leaves the Deployment as it is until the "
            "Microservice spec changes"
        )
        held = _still_held(ms) or _hold(ms, "RolloutUndone", running, message, now)
        return RollingPlan(with_template(rendered, running), held=held)
    if _deadline_exceeded(live):
        target = _rollback_target(ms, running, replica_sets)
        if target is not None:
            deadline = ms.spec.rollout.progress_deadline_seconds
            message = (
                f"{ms.spec.image} did not become ready within {deadline}s{_why_not_ready(ms)}; "
                f"rolled back to {image_of(target)}. Change the spec to release again"
            )
            held = _hold(ms, "RolledBack", target, message, now)
            return RollingPlan(with_template(rendered, target), held=held, rolls_back=True)
    return RollingPlan(rendered)


def _hold(
    ms: Microservice, reason: HeldReason, running: dict[str, Any], message: str, now: str
) -> HeldRelease:
    return HeldRelease(
        generation=ms.metadata.generation,
        reason=reason,
        running_image=image_of(running),
        message=message,
        at=now,
    )


def release_status(
    ms: Microservice,
    held: HeldRelease | None,
    *,
    available: bool,
    now: str,
    release: ReleaseState | None = None,
    steered: str | None = None,
) -> RolloutStatus:
    """status.rollout after this pass: the stable image, the held release, the history,
    the Canary or BlueGreen release in progress and the last command carried out."""
    previous = ms.status.rollout
    history = list(previous.history)
    stable = previous.stable_image
    generation = ms.metadata.generation
    last = history[-1] if history else None
    if held is not None:
        if last is None or (last.generation, last.outcome) != (generation, held.reason):
            history.append(
                Release(generation=generation, image=ms.spec.image, outcome=held.reason, at=held.at)
            )
    elif available:
        stable = ms.spec.image
        if last is None or last.generation != generation or last.outcome != "Released":
            history.append(
                Release(generation=generation, image=ms.spec.image, outcome="Released", at=now)
            )
    return RolloutStatus(
        stable_image=stable,
        held=held,
        history=tuple(history[-HISTORY_LENGTH:]),
        release=release,
        steered=steered,
    )


def image_of(template: dict[str, Any]) -> str:
    containers = template.get("spec", {}).get("containers") or [{}]
    return str(containers[0].get("image", ""))


def _still_held(ms: Microservice) -> HeldRelease | None:
    held = ms.status.rollout.held
    return held if held is not None and held.generation == ms.metadata.generation else None


def _template_differs(rendered: dict[str, Any], live: dict[str, Any]) -> bool:
    return find_drift(rendered["spec"]["template"], live["spec"].get("template")) is not None


def _deadline_exceeded(live: dict[str, Any]) -> bool:
    caught_up = bool(
        live.get("status", {}).get("observedGeneration", 0) >= live["metadata"].get("generation", 0)
    )
    for cond in live.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Progressing":
            return caught_up and cond.get("reason") == "ProgressDeadlineExceeded"
    return False


def _template(rs: dict[str, Any]) -> dict[str, Any]:
    """A ReplicaSet's pod template as the Deployment had it (without the hash label)."""
    template = dict(rs["spec"]["template"])
    metadata = dict(template.get("metadata", {}))
    labels = {k: v for k, v in (metadata.get("labels") or {}).items() if k != TEMPLATE_HASH}
    template["metadata"] = {**metadata, "labels": labels}
    return template


def _revision(rs: dict[str, Any]) -> int:
    try:
        return int(rs["metadata"].get("annotations", {}).get(REVISION, "0"))
    except ValueError:
        return 0


def _went_back(running: dict[str, Any], replica_sets: Sequence[dict[str, Any]]) -> bool:
    """Whether the running template is an earlier revision's (an undo, or our rollback)."""
    newest = max((_revision(rs) for rs in replica_sets), default=0)
    for rs in replica_sets:
        if _template(rs) != running:
            continue
        annotations = rs["metadata"].get("annotations", {})
        if _revision(rs) < newest or REVISION_HISTORY in annotations:
            return True
    return False


def _rollback_target(
    ms: Microservice, running: dict[str, Any], replica_sets: Sequence[dict[str, Any]]
) -> dict[str, Any] | None:
    """The template to go back to: the newest revision of the stable image, else the
    newest earlier revision; None when there is none (a first release cannot go back)."""
    earlier = sorted(
        (rs for rs in replica_sets if _template(rs) != running), key=_revision, reverse=True
    )
    stable = ms.status.rollout.stable_image
    for rs in earlier:
        if stable is not None and image_of(_template(rs)) == stable:
            return _template(rs)
    return _template(earlier[0]) if earlier else None


def _why_not_ready(ms: Microservice) -> str:
    """What the last pass found in the pods, if anything (pods.py wrote it)."""
    degraded = ms.status.condition("Degraded")
    if degraded is None or degraded.status != "True" or not degraded.message:
        return ""
    return f" ({degraded.message})"


def with_template(rendered: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    return {**rendered, "spec": {**rendered["spec"], "template": template}}
