"""The first, pure step of a reconcile pass: from a Microservice and what was observed
about it, the children to sync and the notes its status must carry.

Everything the operator renders comes from render/; the plan only decides what the
observations change about it:
- the allowed callers: a caller whose ServiceAccount does not exist yet is left out of
  the AuthorizationPolicy until it exists (the status says so through `out_of_sync`);
  every other change of the callers, a revocation above all, takes effect at once;
- the release: the Deployment's pod template is the spec's, or an earlier one when the
  release is rolled back or was undone (rolling.py); with the Canary strategy the stable
  Deployment keeps its template while a canary Deployment beside it runs the spec's and
  the VirtualService routes the canary's weight to it (canary.py, traffic.py); with
  BlueGreen the second Deployment is the preview, and the Service's selector moves to
  it at the switch.
Used by reconcile.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shopmesh_operator.canary import CanaryPlan, CanarySeen, plan_canary
from shopmesh_operator.models import HeldRelease, Measurement, Microservice
from shopmesh_operator.render import build_authorization_policy, build_children
from shopmesh_operator.traffic import router_for


@dataclass(frozen=True)
class Observations:
    """What reconcile read before planning."""

    known_callers: tuple[str, ...] = ()
    missing_callers: tuple[str, ...] = ()
    #: The live Deployment (None: not there, or not read on a first pass).
    deployment: dict[str, Any] | None = None
    #: Its ReplicaSets, read only when the release needs them (rolling.needs_history).
    replica_sets: tuple[dict[str, Any], ...] = ()
    #: When the observations were made (RFC 3339).
    now: str = ""
    #: The canary Deployment (read only while a canary release runs).
    canary: dict[str, Any] | None = None
    #: The canary analysis measured this pass (None: none was due).
    measurements: tuple[Measurement, ...] | None = None


@dataclass(frozen=True)
class Plan:
    """The children to sync, in apply order, and what the status must say about them."""

    children: tuple[dict[str, Any], ...]
    #: The OutOfSync message, or None when every child follows the spec.
    out_of_sync: str | None
    #: (apiVersion, kind) of everything the spec asks for: the rest of ours is pruned.
    rendered: frozenset[tuple[str, str]]
    #: The release held back this pass (rolled back, or undone by a user).
    held: HeldRelease | None = None
    #: Whether the Deployment change of this pass is a rollback.
    rolls_back: bool = False
    #: The release this pass (its state, events and the canary Deployment, if any).
    release: CanaryPlan | None = None


def plan_children(ms: Microservice, seen: Observations) -> Plan:
    """The plan for `ms` given `seen`."""
    children: list[dict[str, Any]] = []
    out_of_sync: str | None = None
    rendered = build_children(ms)
    deployment = next(m for m in rendered if m["kind"] == "Deployment")
    release = plan_canary(ms, deployment, _release_seen(seen))
    for manifest in rendered:
        if manifest["kind"] == "Deployment":
            manifest = release.deployment
            if release.canary is not None:
                children += [manifest, release.canary]
                continue
        if manifest["kind"] in ("Service", "VirtualService"):
            manifest = router_for(ms).route(manifest, release.weight)
        if manifest["kind"] == "AuthorizationPolicy" and seen.missing_callers:
            out_of_sync = missing_callers_message(ms, seen.missing_callers)
            manifest = build_authorization_policy(ms, callers=seen.known_callers)
        children.append(manifest)
    return Plan(
        children=tuple(children),
        out_of_sync=out_of_sync,
        rendered=frozenset((m["apiVersion"], m["kind"]) for m in rendered),
        held=release.held,
        rolls_back=release.rolls_back,
        release=release,
    )


def _release_seen(seen: Observations) -> CanarySeen:
    return CanarySeen(
        stable=seen.deployment,
        canary=seen.canary,
        replica_sets=seen.replica_sets,
        measurements=seen.measurements,
        now=seen.now,
    )


def missing_callers_message(ms: Microservice, missing: tuple[str, ...]) -> str:
    accounts = ", ".join(
        caller if "/" in caller else f"{ms.metadata.namespace}/{caller}" for caller in missing
    )
    return (
        f"mesh.allowedCallers: no ServiceAccount {accounts}; the AuthorizationPolicy "
        "leaves it out until it exists"
    )
