"""Level-triggered reconcile of one Microservice: the same pass serves create, update,
resume, child events, re-checks and the periodic safety-net resync.

One pass is one ordered pipeline, in the shape of Argo Rollouts' controller:

1. observe  read what planning needs: which allowed callers exist (callers.py) and,
            while one is missing, whether the AuthorizationPolicy does; the live
            Deployment and, only when the release needs them, its ReplicaSets; while
            a release runs, its canary (or preview) Deployment and, when due, the analysis
            (analysis.py, through the Reconciler's provider);
2. plan     pure (plan.py): the rendered children and the notes the status carries;
            a release past its progress deadline is rolled back, an undone one held
            (rolling.py);
3. sync     for each child, compare with what is live and apply only what differs
            (drift.py), so an idle operator writes nothing;
4. prune    delete an optional child of ours the spec no longer asks for, the second
            Deployment (canary or preview) of a release that ended, and the preview
            Service of a strategy that is no longer BlueGreen;
5. status   calculate it from the live Deployment (and, while it has not rolled out,
            from its pods, which say why: pods.py, pod_health.py);
6. write    the status, once, and only if it changed;
7. events   one per created, updated, repaired or deleted child, one per release
            step, weight change and analysis result (canary.py), and one per phase
            change.

When the API refuses a child, the failure becomes the status (a condition) and the
last good children stay. A `Reconciler` holds what passes share: one lock per
Microservice, the dirty set that coalesces bursts of triggers, the Microservices
waiting on a missing caller and the re-checks only time brings. The operator keeps
one in kopf's memo (handlers/lifecycle.py); it talks to the cluster only through
`apply.ClusterApi`.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import weakref
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from shopmesh_operator import constants as c
from shopmesh_operator.analysis import AnalysisProvider, NoProvider
from shopmesh_operator.apply import ApplyError, ClusterApi, StaleStatus
from shopmesh_operator.callers import CallerWaits
from shopmesh_operator.canary import measurement_due
from shopmesh_operator.drift import find_drift
from shopmesh_operator.metrics import (
    CANARY_WEIGHT,
    CHILD_CHANGES,
    RECONCILE_SECONDS,
    RECONCILES,
    RELEASE_EVENTS,
    RELEASES,
)
from shopmesh_operator.models import Microservice, MicroserviceStatus
from shopmesh_operator.plan import Observations, Plan, plan_children
from shopmesh_operator.pods import calculate_live_status
from shopmesh_operator.render import build_deployment
from shopmesh_operator.render.deployment import canary_name
from shopmesh_operator.render.metadata import build_selector_labels
from shopmesh_operator.render.service import preview_name
from shopmesh_operator.requeue import Requeue
from shopmesh_operator.rolling import needs_history
from shopmesh_operator.status import calculate_failed_status, now_iso, status_patch
from shopmesh_operator.steps import release_analysis

log = logging.getLogger(__name__)

Ref = tuple[str, str]  # (namespace, name)


#: Passes in a row whose status write may find the Microservice changed since it was read.
STALE_RETRIES = 3

#: The children a release's weight routes through (traffic.py).
ROUTING_KINDS = frozenset({"Service", "VirtualService"})


class Action(enum.StrEnum):
    """What a pass did to a child (also the reason of its Event)."""

    CREATED = "Created"
    UPDATED = "Updated"
    DRIFT_REPAIRED = "DriftRepaired"
    DELETED = "Deleted"
    ROLLED_BACK = "RolledBack"


@dataclass(frozen=True)
class ChildChange:
    kind: str
    name: str
    action: Action
    path: str | None = None


@dataclass(frozen=True)
class ReconcileResult:
    changes: tuple[ChildChange, ...]
    status: MicroserviceStatus
    status_written: bool


class InvalidSpec(Exception):
    """The stored spec does not parse; the CRD schema should have refused it."""


#: Kinds render leaves out when the spec does not ask for them; reconcile deletes
#: a leftover one (e.g. the HPA after spec.autoscaling is removed).
OPTIONAL_KINDS = (("autoscaling/v2", "HorizontalPodAutoscaler"),)


class Reconciler:
    """Reconciles Microservices through `api`; one per operator process."""

    def __init__(self, api: ClusterApi, analysis: AnalysisProvider | None = None) -> None:
        self.api = api
        self.analysis = analysis or NoProvider()
        self.callers = CallerWaits()
        self.requeue = Requeue()
        self._locks: weakref.WeakValueDictionary[Ref, asyncio.Lock] = weakref.WeakValueDictionary()
        self._dirty: set[Ref] = set()

    async def reconcile(self, namespace: str, name: str) -> ReconcileResult | None:
        """Bring the cluster in line with Microservice `namespace/name`.

        The resource is read afresh under a per-object lock, so concurrent triggers
        (a child event, the resync, an update) never act on a stale status. Returns
        None when it is gone or being deleted; raises ApplyError when worth retrying.
        """
        async with self._lock_for((namespace, name)):
            return await self._timed_pass(namespace, name)

    async def request(self, namespace: str, name: str) -> None:
        """Coalescing trigger used by the handlers, the watches and the resync.

        Creating one Microservice fires a watch event for each of its children, and
        a rollout fires several Deployment events. If a pass is already running for
        this Microservice, the trigger only marks it dirty and returns; the running
        pass goes round once more. A burst of N events costs at most two passes.
        """
        key = (namespace, name)
        lock = self._lock_for(key)
        if lock.locked():
            self._dirty.add(key)
            return
        async with lock:
            while True:
                self._dirty.discard(key)
                await self._timed_pass(namespace, name)
                if key not in self._dirty:
                    return

    def _lock_for(self, key: Ref) -> asyncio.Lock:
        lock = self._locks.get(key)
        if lock is None:
            lock = self._locks[key] = asyncio.Lock()
        return lock

    async def _timed_pass(self, namespace: str, name: str) -> ReconcileResult | None:
        with RECONCILE_SECONDS.time():
            try:
                result = await self._load_and_pass(namespace, name)
            except Exception:
                RECONCILES.labels(result="error").inc()
                raise
        RECONCILES.labels(result="ok" if result is None or not result.changes else "changed").inc()
        for change in result.changes if result else ():
            CHILD_CHANGES.labels(kind=change.kind, action=change.action).inc()
        return result

    async def _load_and_pass(self, namespace: str, name: str) -> ReconcileResult | None:
        """One pass from a fresh read. Its status is written only if the Microservice is
        still as read; if someone wrote first, the pass is done again from a new read, so
        a release step is entered (and its Event posted) once, whoever enters it."""
        for _ in range(STALE_RETRIES):
            body = await self.api.get(c.API_VERSION, c.KIND, namespace, name)
            if body is None or body.get("metadata", {}).get("deletionTimestamp"):
                return None
            try:
                ms = Microservice.from_body(body)
            except ValidationError as err:
                raise InvalidSpec(f"invalid Microservice spec: {err}") from err
            version = body.get("metadata", {}).get("resourceVersion")
            try:
                return await Pass(ms, self, resource_version=version).run()
            except StaleStatus as stale:
                log.info("%s; reconciling again from a fresh read", stale)
        raise ApplyError(
            reason="Conflict",
            message=f"{namespace}/{name} kept changing during {STALE_RETRIES} passes",
            retryable=True,
        )


@dataclass
class Pass:
    """One reconcile pass of one Microservice, step by step (see the module docstring)."""

    ms: Microservice
    reconciler: Reconciler
    seen: Observations = field(default_factory=Observations)
    #: The Microservice's resourceVersion as read: the status write's precondition.
    resource_version: str | None = None

    @property
    def api(self) -> ClusterApi:
        return self.reconciler.api

    async def run(self) -> ReconcileResult:
        ms = self.ms
        changes: list[ChildChange] = []
        try:
            self.seen = await self.observe()
            plan = plan_children(ms, self.seen)
            live = await self.sync(plan, changes)
            if not self.never_reconciled:  # nothing of ours can be left over yet
                changes.extend(await self.prune(plan))
        except ApplyError as err:
            status = calculate_failed_status(ms, reason=err.reason, message=err.message)
            written = await self.write(status)
            await self.record(changes)
            if written:  # the failure is the Event; no phase Event besides
                await self.api.post_event(
                    ms.metadata, type_="Warning", reason=err.reason, message=err.message
                )
            if err.retryable:
                raise
            return ReconcileResult(tuple(changes), status, written)
        live_status = await calculate_live_status(
            ms,
            live.get("Deployment"),
            out_of_sync=plan.out_of_sync,
            held=plan.held,
            release=plan.release,
            api=self.api,
        )
        for recheck in (live_status.recheck_in, plan.release.recheck_in if plan.release else None):
            if recheck is not None:
                self.reconciler.requeue.later(self.ref, recheck)
        written = await self.write(live_status.status)
        await self.record(changes)
        await self.record_undo(plan)
        await self.record_release(plan)
        self.count_releases(live_status.status)
        await self.record_phase(live_status.status)
        return ReconcileResult(tuple(changes), live_status.status, written)

    @property
    def ref(self) -> Ref:
        return (self.ms.metadata.namespace, self.ms.metadata.name)

    @property
    def spec_changed(self) -> bool:
        return self.ms.status.observed_generation != self.ms.metadata.generation

    @property
    def first_pass(self) -> bool:
        return self.ms.status.observed_generation is None

    @property
    def never_reconciled(self) -> bool:
        return self.ms.status.phase is None and not self.ms.status.conditions

    # --- 1. observe ------------------------------------------------------------------

    async def observe(self) -> Observations:
        ms, api = self.ms, self.api
        known, missing = await self.reconciler.callers.split(ms, api)
        rendered = build_deployment(ms)
        deployment = (
            None
            if self.never_reconciled
            else await api.get(rendered["apiVersion"], rendered["kind"], *self.ref)
        )
        replica_sets: tuple[dict[str, Any], ...] = ()
        if needs_history(ms, rendered, deployment):
            selector = build_selector_labels(ms)
            replica_sets = tuple(await api.list_replica_sets(ms.metadata.namespace, selector))
        now = now_iso()
        canary = None
        if ms.status.rollout.release is not None:
            canary = await api.get("apps/v1", "Deployment", ms.metadata.namespace, canary_name(ms))
        measurements = None
        analysis = release_analysis(ms.spec.rollout)
        if analysis is not None and measurement_due(ms, now):
            measurements = await self.reconciler.analysis.measure(ms, analysis, now=now)
        return Observations(
            known,
            missing,
            deployment=deployment,
            replica_sets=replica_sets,
            now=now,
            canary=canary,
            measurements=measurements,
        )

    # --- 3. sync ---------------------------------------------------------------------

    async def sync(
        self, plan: Plan, changes: list[ChildChange]
    ) -> dict[str, dict[str, Any] | None]:
        """Apply what differs; the live children by kind. Appends to `changes` as it goes,
        so a failure half-way still reports what was done."""
        live_by_kind: dict[str, dict[str, Any] | None] = {}
        for manifest in plan.children:
            change, live = await self.sync_child(manifest)
            if manifest["metadata"]["name"] != self.ms.metadata.name:  # the canary
                if change:
                    changes.append(change)
                continue
            release = plan.release.state if plan.release else None
            template = change is not None and (change.path or "").startswith(".spec.template")
            if manifest["kind"] == "Deployment" and template and change and release is not None:
                promoting = f"promoting the canary's template ({release.image})"
                change = ChildChange(change.kind, change.name, Action.UPDATED, promoting)
            if manifest["kind"] in ROUTING_KINDS and change is not None:
                change = self.as_routing(plan, change)
            if manifest["kind"] == "Deployment" and change is not None and plan.rolls_back:
                message = plan.held.message if plan.held else "rolled back"
                change = ChildChange(change.kind, change.name, Action.ROLLED_BACK, message)
            if (
                manifest["kind"] == "AuthorizationPolicy"
                and change is not None
                and change.path is not None
                and plan.out_of_sync is None
                and self.a_caller_was_missing()
            ):
                change = ChildChange(
                    change.kind, change.name, Action.UPDATED, "every caller now exists"
                )
            live_by_kind[manifest["kind"]] = live
            if change:
                changes.append(change)
        return live_by_kind

    async def sync_child(
        self, manifest: dict[str, Any]
    ) -> tuple[ChildChange | None, dict[str, Any] | None]:
        api, meta = self.api, manifest["metadata"]
        # On a Microservice never reconciled before there is nothing of ours to compare
        # with: apply straight away (server-side apply creates or updates), which halves
        # the calls on creation.
        if self.never_reconciled:
            live = None
        elif manifest["kind"] == "Deployment" and meta["name"] == self.ms.metadata.name:
            live = self.seen.deployment  # observe read it
        elif manifest["kind"] == "Deployment":
            live = self.seen.canary  # observe read it while a release runs
        else:
            live = await api.get(
                manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"]
            )
        if live is None:
            initial = _initial_replicas(self.ms)
            if _is_autoscaled_deployment(manifest) and initial is not None:
                # Created at the size the spec asks for, not the API default of 1;
                # the hand-over below then gives the count to the HPA.
                sized = {**manifest, "spec": {**manifest["spec"], "replicas": initial}}
                created = await api.apply(sized)
                await _hand_replicas_over(created, api)
            applied = await api.apply(manifest)
            action = (
                Action.CREATED if self.first_pass or self.spec_changed else Action.DRIFT_REPAIRED
            )
            return ChildChange(manifest["kind"], meta["name"], action), applied
        path = find_drift(manifest, live)
        handover = _is_autoscaled_deployment(manifest) and owns_replicas(live)
        if handover:
            await _hand_replicas_over(live, api)
            path = ".spec.replicas, handed over to the HorizontalPodAutoscaler"
        if path is None:
            return None, live
        applied = await api.apply(manifest)  # without replicas: drops the operator's claim
        action = Action.UPDATED if self.spec_changed or handover else Action.DRIFT_REPAIRED
        return ChildChange(manifest["kind"], meta["name"], action, path), applied

    def as_routing(self, plan: Plan, change: ChildChange) -> ChildChange:
        """A Service or VirtualService the release's weight moved is an update, not drift."""
        before = self.ms.status.rollout.release
        state = plan.release.state if plan.release else None
        weights = (before.weight if before else 0, state.weight if state else 0)
        if change.action != Action.DRIFT_REPAIRED or weights[0] == weights[1]:
            return change
        routed = f"{change.path}; release weight {weights[0]}% -> {weights[1]}%"
        return ChildChange(change.kind, change.name, Action.UPDATED, routed)

    def a_caller_was_missing(self) -> bool:
        """Whether the last pass left a missing caller out of the AuthorizationPolicy."""
        sync = self.ms.status.condition("OutOfSync")
        return sync is not None and sync.status == "True"

    # --- 4. prune --------------------------------------------------------------------

    async def prune(self, plan: Plan) -> list[ChildChange]:
        changes: list[ChildChange] = []
        namespace, running = self.ms.metadata.namespace, self.ms.status.rollout.release
        if running is not None:
            # The release ended this pass, or a new spec changed its strategy: its second
            # Deployment goes (a new release under the new strategy has another name).
            ended = plan.release is None or plan.release.canary is None
            name = canary_name(self.ms, running.strategy)
            if ended or name != canary_name(self.ms):
                await self.api.delete("apps/v1", "Deployment", namespace, name)
                changes.append(ChildChange("Deployment", name, Action.DELETED))
        if (
            self.spec_changed
            and not self.first_pass
            and self.ms.spec.rollout.strategy != "BlueGreen"
        ):
            # A strategy that changed away from BlueGreen leaves its preview Service.
            name = preview_name(self.ms)
            live = await self.api.get("v1", "Service", namespace, name)
            labels = (live or {}).get("metadata", {}).get("labels", {})
            if live is not None and labels.get(c.LABEL_MANAGED_BY) == c.MANAGED_BY:
                await self.api.delete("v1", "Service", namespace, name)
                changes.append(ChildChange("Service", name, Action.DELETED))
        for api_version, kind in OPTIONAL_KINDS:
            if (api_version, kind) in plan.rendered:
                continue
            live = await self.api.get(api_version, kind, *self.ref)
            labels = (live or {}).get("metadata", {}).get("labels", {})
            if live is not None and labels.get(c.LABEL_MANAGED_BY) == c.MANAGED_BY:
                await self.api.delete(api_version, kind, *self.ref)
                changes.append(ChildChange(kind, self.ms.metadata.name, Action.DELETED))
        return changes

    # --- 6. write --------------------------------------------------------------------

    async def write(self, status: MicroserviceStatus) -> bool:
        before, after = self.ms.status.to_wire(), status.to_wire()
        if after == before:
            return False
        patch = status_patch(before, after)
        await self.api.patch_status(self.ms.metadata, patch, resource_version=self.resource_version)
        return True

    # --- 7. events -------------------------------------------------------------------

    async def record(self, changes: list[ChildChange]) -> None:
        ms = self.ms
        for change in changes:
            log.info("%s/%s: %s", ms.metadata.namespace, ms.metadata.name, describe(change))
            await self.api.post_event(
                ms.metadata,
                type_="Warning" if change.action == Action.ROLLED_BACK else "Normal",
                reason=change.action,
                message=describe(change),
            )

    async def record_undo(self, plan: Plan) -> None:
        """One Event when a user's `kubectl rollout undo` is first seen."""
        held, before = plan.held, self.ms.status.rollout.held
        if held is None or held.reason != "RolloutUndone" or held == before:
            return
        log.info("%s/%s: %s", self.ms.metadata.namespace, self.ms.metadata.name, held.message)
        await self.api.post_event(
            self.ms.metadata, type_="Normal", reason=held.reason, message=held.message
        )

    async def record_release(self, plan: Plan) -> None:
        """The release's own Events (steps, weights, analysis results) and metrics."""
        release = plan.release
        if release is None:
            return
        ms = self.ms
        for event in release.events:
            log.info("%s/%s: %s: %s", *self.ref, event.reason, event.message)
            RELEASE_EVENTS.labels(*self.ref, event.reason).inc()
            await self.api.post_event(
                ms.metadata, type_=event.type, reason=event.reason, message=event.message
            )
        if ms.spec.rollout.strategy != "Rolling" or ms.status.rollout.release is not None:
            CANARY_WEIGHT.labels(*self.ref).set(release.weight)

    def count_releases(self, status: MicroserviceStatus) -> None:
        """One count per release outcome newly in the history."""
        before = set(self.ms.status.rollout.history)
        for release in status.rollout.history:
            if release not in before:
                RELEASES.labels(*self.ref, release.outcome).inc()

    async def record_phase(self, status: MicroserviceStatus) -> None:
        ms = self.ms
        if status.phase == ms.status.phase:
            return
        ready = status.condition("Ready")
        log.info(
            "%s/%s: phase %s -> %s",
            ms.metadata.namespace,
            ms.metadata.name,
            ms.status.phase,
            status.phase,
        )
        await self.api.post_event(
            ms.metadata,
            type_="Warning" if status.phase in ("Degraded", "Failed") else "Normal",
            reason=status.phase or "Unknown",
            message=ready.message if ready else "",
        )


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


def describe(change: ChildChange) -> str:
    if change.action == Action.CREATED:
        return f"created {change.kind} {change.name}"
    if change.action == Action.DELETED:
        return f"deleted {change.kind} {change.name}: the spec no longer asks for it"
    if change.action == Action.UPDATED:
        return f"updated {change.kind} {change.name} (first difference at {change.path})"
    if change.action == Action.ROLLED_BACK:
        return f"rolled back {change.kind} {change.name}: {change.path}"
    if change.path is None:
        return f"{change.kind} {change.name} was deleted outside the operator; recreated"
    return (
        f"{change.kind} {change.name} was changed outside the operator at {change.path}; restored"
    )


async def reconcile_microservice(
    namespace: str, name: str, api: ClusterApi
) -> ReconcileResult | None:
    """One pass with a fresh `Reconciler`: for tools and tests that reconcile one object
    once (the operator keeps one Reconciler and calls `request`)."""
    return await Reconciler(api).reconcile(namespace, name)
