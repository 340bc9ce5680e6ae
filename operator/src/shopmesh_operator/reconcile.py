"""Level-triggered reconcile of one Microservice: the same function serves create,
update, resume, child events and the periodic safety-net timer.

Each pass renders the children, compares each with what is live and applies only
what differs (so an idle operator writes nothing), then computes the status from
the live Deployment (and, while it has not rolled out, from its pods, which say
why: pods.py, pod_health.py) and writes it only if it changed. Events record every
created, updated or repaired child and every phase change. When the API refuses
a child, the failure becomes a condition and the last good children stay.
Called by handlers/; talks to the cluster only through `apply.ClusterApi`.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from shopmesh_operator import constants as c
from shopmesh_operator.apply import ApplyError, ClusterApi
from shopmesh_operator.callers import split_callers
from shopmesh_operator.drift import find_drift
from shopmesh_operator.metrics import CHILD_CHANGES, RECONCILE_SECONDS, RECONCILES
from shopmesh_operator.models import Microservice, MicroserviceStatus
from shopmesh_operator.pods import calculate_live_status
from shopmesh_operator.render import build_authorization_policy, build_children
from shopmesh_operator.status import calculate_failed_status

log = logging.getLogger(__name__)
_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()
_dirty: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class ChildChange:
    kind: str
    name: str
    action: str  # "Created" | "Updated" | "DriftRepaired" | "Deleted"
    path: str | None = None


@dataclass(frozen=True)
class ReconcileResult:
    changes: tuple[ChildChange, ...]
    status: MicroserviceStatus
    status_written: bool


class InvalidSpec(Exception):
    """The stored spec does not parse; the CRD schema should have refused it."""


async def reconcile_microservice(
    namespace: str, name: str, api: ClusterApi
) -> ReconcileResult | None:
    """Bring the cluster in line with Microservice `namespace/name`.

    The resource is read afresh under a per-object lock, so concurrent triggers
    (a child event, the timer, an update) never act on a stale status. Returns
    None when it is gone or being deleted; raises ApplyError when worth retrying.
    """
    async with _lock_for((namespace, name)):
        return await _load_and_reconcile(namespace, name, api)


async def request_reconcile(namespace: str, name: str, api: ClusterApi) -> None:
    """Coalescing trigger used by the handlers.

    Creating one Microservice fires a watch event for each of its children, and
    a rollout fires several Deployment events. If a pass is already running for
    this Microservice, the trigger only marks it dirty and returns; the running
    pass goes round once more. A burst of N events costs at most two passes.
    """
    key = (namespace, name)
    lock = _lock_for(key)
    if lock.locked():
        _dirty.add(key)
        return
    async with lock:
        while True:
            _dirty.discard(key)
            await _load_and_reconcile(namespace, name, api)
            if key not in _dirty:
                return


def _lock_for(key: tuple[str, str]) -> asyncio.Lock:
    lock = _locks.get(key)
    if lock is None:
        lock = _locks[key] = asyncio.Lock()
    return lock


async def _load_and_reconcile(namespace: str, name: str, api: ClusterApi) -> ReconcileResult | None:
    with RECONCILE_SECONDS.time():
        try:
            result = await _load_and_reconcile_timed(namespace, name, api)
        except Exception:
            RECONCILES.labels(result="error").inc()
            raise
    RECONCILES.labels(result="ok" if result is None or not result.changes else "changed").inc()
    for change in result.changes if result else ():
        CHILD_CHANGES.labels(kind=change.kind, action=change.action).inc()
    return result


async def _load_and_reconcile_timed(
    namespace: str, name: str, api: ClusterApi
) -> ReconcileResult | None:
    body = await api.get(c.API_VERSION, c.KIND, namespace, name)
    if body is None or body.get("metadata", {}).get("deletionTimestamp"):
        return None
    try:
        ms = Microservice.from_body(body)
    except ValidationError as err:
        raise InvalidSpec(f"invalid Microservice spec: {err}") from err
    return await _reconcile(ms, api)


async def _reconcile(ms: Microservice, api: ClusterApi) -> ReconcileResult:
    spec_changed = ms.status.observed_generation != ms.metadata.generation
    first_pass = ms.status.observed_generation is None
    never_reconciled = ms.status.phase is None and not ms.status.conditions
    changes: list[ChildChange] = []
    live_by_kind: dict[str, dict[str, Any] | None] = {}
    out_of_sync: str | None = None
    try:
        known, missing = await split_callers(ms, api)
        for manifest in build_children(ms):
            if manifest["kind"] == "AuthorizationPolicy" and missing:
                out_of_sync = _missing_callers_message(ms, missing)
                manifest = build_authorization_policy(ms, callers=known)
                if await _exists(manifest, api):
                    continue  # keep the last good policy until every caller exists
            change, live = await _sync_child(
                manifest,
                api,
                spec_changed=spec_changed,
                first_pass=first_pass,
                never_reconciled=never_reconciled,
                initial_replicas=_initial_replicas(ms),
            )
            caught_up = not missing and change is not None and change.path is not None
            if caught_up and manifest["kind"] == "AuthorizationPolicy" and _was_held_back(ms):
                assert change is not None
                change = ChildChange(change.kind, change.name, "Updated", "every caller now exists")
            live_by_kind[manifest["kind"]] = live
            if change:
                changes.append(change)
        if not never_reconciled:  # nothing of ours can be left over yet
            rendered = {(m["apiVersion"], m["kind"]) for m in build_children(ms)}
            changes.extend(await _prune(ms, rendered, api))
    except ApplyError as err:
        await _post_change_events(ms, changes, api)
        status = calculate_failed_status(ms, reason=err.reason, message=err.message)
        written = await _write_status(ms, status, api)
        if written:
            await api.post_event(
                ms.metadata, type_="Warning", reason=err.reason, message=err.message
            )
        if err.retryable:
            raise
        return ReconcileResult(tuple(changes), status, written)

    for change in changes:
        log.info("%s/%s: %s", ms.metadata.namespace, ms.metadata.name, _describe(change))
        await api.post_event(
            ms.metadata, type_="Normal", reason=change.action, message=_describe(change)
        )
    deployment = live_by_kind.get("Deployment")
    status = await calculate_live_status(ms, deployment, out_of_sync=out_of_sync, api=api)
    written = await _write_status(ms, status, api)
    if status.phase != ms.status.phase:
        ready = status.condition("Ready")
        log.info(
            "%s/%s: phase %s -> %s",
            ms.metadata.namespace,
            ms.metadata.name,
            ms.status.phase,
            status.phase,
        )
        await api.post_event(
            ms.metadata,
            type_="Warning" if status.phase in ("Degraded", "Failed") else "Normal",
            reason=status.phase or "Unknown",
            message=ready.message if ready else "",
        )
    return ReconcileResult(tuple(changes), status, written)


async def _sync_child(
    manifest: dict[str, Any],
    api: ClusterApi,
    *,
    spec_changed: bool,
    first_pass: bool,
    never_reconciled: bool,
    initial_replicas: int | None,
) -> tuple[ChildChange | None, dict[str, Any] | None]:
    meta = manifest["metadata"]
    # On a Microservice never reconciled before there is nothing of ours to compare
    # with: apply straight away (server-side apply creates or updates), which halves
    # the calls on creation.
    live = (
        None
        if never_reconciled
        else await api.get(
            manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"]
        )
    )
    if live is None:
        if _is_autoscaled_deployment(manifest) and initial_replicas is not None:
            # Created at the size the spec asks for, not the API default of 1;
            # the hand-over below then gives the count to the HPA.
            sized = {**manifest, "spec": {**manifest["spec"], "replicas": initial_replicas}}
            created = await api.apply(sized)
            await _hand_replicas_over(created, api)
        applied = await api.apply(manifest)
        action = "Created" if first_pass or spec_changed else "DriftRepaired"
        return ChildChange(manifest["kind"], meta["name"], action), applied
    path = find_drift(manifest, live)
    handover = _is_autoscaled_deployment(manifest) and owns_replicas(live)
    if handover:
        await _hand_replicas_over(live, api)
        path = ".spec.replicas, handed over to the HorizontalPodAutoscaler"
    if path is None:
        return None, live
    applied = await api.apply(manifest)  # without replicas: drops the operator's claim
    action = "Updated" if spec_changed or handover else "DriftRepaired"
    return ChildChange(manifest["kind"], meta["name"], action, path), applied


def _is_autoscaled_deployment(manifest: dict[str, Any]) -> bool:
    return manifest["kind"] == "Deployment" and "replicas" not in manifest["spec"]


def _initial_replicas(ms: Microservice) -> int | None:
    scaling = ms.spec.autoscaling
    return max(ms.spec.replicas, scaling.min_replicas) if scaling else None


def owns_replicas(live: dict[str, Any]) -> bool:
    """Whether the operator's field manager owns the live Deployment's spec.replicas."""
    for entry in live.get("metadata", {}).get("managedFields", []) or []:
        if entry.get("manager") == c.FIELD_MANAGER and entry.get("operation") == "Apply":
            return "f:replicas" in entry.get("fieldsV1", {}).get("f:spec", {})
    return False


async def _hand_replicas_over(live: dict[str, Any], api: ClusterApi) -> None:
    """Before an HPA takes over, let a second field manager hold spec.replicas.

    Applying a Deployment without `replicas` drops the operator's ownership of
    the field; if nobody else owned it, the API server resets it to 1 and the
    service dips to one pod until the HPA scales back up. The documented
    server-side-apply hand-over avoids that: another manager claims the current
    value first, so the field stays until the HPA changes it.
    """
    meta = live["metadata"]
    await api.apply(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": meta["name"], "namespace": meta["namespace"]},
            "spec": {"replicas": live.get("spec", {}).get("replicas", 1)},
        },
        field_manager=c.HANDOVER_FIELD_MANAGER,
    )


#: Kinds render leaves out when the spec does not ask for them; reconcile deletes
#: a leftover one (e.g. the HPA after spec.autoscaling is removed).
OPTIONAL_KINDS = (("autoscaling/v2", "HorizontalPodAutoscaler"),)


async def _prune(
    ms: Microservice, rendered: set[tuple[str, str]], api: ClusterApi
) -> list[ChildChange]:
    changes: list[ChildChange] = []
    for api_version, kind in OPTIONAL_KINDS:
        if (api_version, kind) in rendered:
            continue
        ref = (ms.metadata.namespace, ms.metadata.name)
        live = await api.get(api_version, kind, *ref)
        labels = (live or {}).get("metadata", {}).get("labels", {})
        if live is not None and labels.get(c.LABEL_MANAGED_BY) == c.MANAGED_BY:
            await api.delete(api_version, kind, *ref)
            changes.append(ChildChange(kind, ms.metadata.name, "Deleted"))
    return changes


def _was_held_back(ms: Microservice) -> bool:
    """Whether the last pass kept the AuthorizationPolicy back for a missing caller."""
    sync = ms.status.condition("OutOfSync")
    return sync is not None and sync.status == "True"


async def _exists(manifest: dict[str, Any], api: ClusterApi) -> bool:
    meta = manifest["metadata"]
    found = await api.get(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])
    return found is not None


def _missing_callers_message(ms: Microservice, missing: tuple[str, ...]) -> str:
    accounts = ", ".join(
        caller if "/" in caller else f"{ms.metadata.namespace}/{caller}" for caller in missing
    )
    return (
        f"mesh.allowedCallers: no ServiceAccount {accounts}; the AuthorizationPolicy "
        "keeps its last good callers until it exists"
    )


async def _post_change_events(
    ms: Microservice, changes: list[ChildChange], api: ClusterApi
) -> None:
    for change in changes:
        log.info("%s/%s: %s", ms.metadata.namespace, ms.metadata.name, _describe(change))
        await api.post_event(
            ms.metadata, type_="Normal", reason=change.action, message=_describe(change)
        )


async def _write_status(ms: Microservice, status: MicroserviceStatus, api: ClusterApi) -> bool:
    if status.to_wire() == ms.status.to_wire():
        return False
    await api.patch_status(ms.metadata, status.to_wire())
    return True


def _describe(change: ChildChange) -> str:
    if change.action == "Created":
        return f"created {change.kind} {change.name}"
    if change.action == "Deleted":
        return f"deleted {change.kind} {change.name}: the spec no longer asks for it"
    if change.action == "Updated":
        return f"updated {change.kind} {change.name} (first difference at {change.path})"
    if change.path is None:
        return f"{change.kind} {change.name} was deleted outside the operator; recreated"
    return (
        f"{change.kind} {change.name} was changed outside the operator at {change.path}; restored"
    )
