"""The Canary and BlueGreen releases, pure: one step function from (spec, status,
observations) to the Deployments to sync, the traffic weight and the new release state.

A BlueGreen release is this machine walking the fixed steps of steps.py: its second
Deployment is `<name>-preview` at the stable side's full size from the start, weight 0
while it previews, and weight 100 once switched (the BlueGreen router moves the
Service's selector, traffic.py); an abort before the stable Deployment takes the new
template moves the selector back at once.

A release starts when the spec's pod template differs from the stable Deployment's on a
new generation. The stable Deployment keeps its template and its size (the HPA's, if
any); the spec's pods run in a second Deployment, `<name>-canary`, whose size follows
the weight (traffic.py). The steps of `rollout.canary.steps` run in order:

- `setWeight: w`: the canary gets w% of the traffic; the step is done when its pods are
  available (within `progressDeadlineSeconds`, else the release is aborted);
- `pause: {duration}`: wait that long; without a duration, until promoted;
- `analysis: {measurements: n}`: wait until n measurements in a row passed.

Analysis (analysis.py) runs in the background the whole time the canary takes traffic:
every `interval` reconcile measures (when `measurement_due` says so) and this module
judges: a failed measurement counts against `failureLimit`, at which the release is
aborted; an inconclusive one (too little traffic, no data, no Prometheus) pauses it and
says why. After the last step the stable Deployment gets the spec's template (a normal
zero-downtime rolling update) while the canary still serves, and once it has rolled out
the canary is removed: promoted. An abort puts the weight back to 0 and removes the
canary at once; the stable Deployment never stopped serving. `kubectl shopmesh` commands
(steering.py) promote, abort, pause, resume and retry.

The whole state is `status.rollout.release` (and `held` after an abort), with absolute
times, so an operator that restarts anywhere resumes at the same step: nothing is
repeated or skipped. A new generation during a release supersedes it: the canary gets
the newer template and the steps start again. Used by plan.py; reconcile.py asks
`measurement_due` before measuring.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from shopmesh_operator.analysis import failed, inconclusive
from shopmesh_operator.drift import find_drift
from shopmesh_operator.models import (
    AnalysisStep,
    CanaryStep,
    HeldRelease,
    Measurement,
    Microservice,
    ReleaseState,
    duration_ms,
)
from shopmesh_operator.render import build_canary_deployment
from shopmesh_operator.rolling import image_of, plan_rolling, spec_changed, with_template
from shopmesh_operator.steering import Command, pending_command
from shopmesh_operator.steps import describe_step, release_analysis, release_steps
from shopmesh_operator.traffic import router_for

#: How many measurements status.rollout.release.analysis keeps.
MEASUREMENTS_KEPT = 10


@dataclass(frozen=True)
class ReleaseEvent:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class CanarySeen:
    """What reconcile read for the release."""

    stable: dict[str, Any] | None
    canary: dict[str, Any] | None
    replica_sets: tuple[dict[str, Any], ...] = ()
    #: Taken this pass (None: no measurement was due).
    measurements: tuple[Measurement, ...] | None = None
    now: str = ""


@dataclass(frozen=True)
class CanaryPlan:
    """The Deployments to sync and what became of the release this pass."""

    deployment: dict[str, Any]
    #: The canary Deployment to sync; None: there must be none.
    canary: dict[str, Any] | None = None
    weight: int = 0
    state: ReleaseState | None = None
    held: HeldRelease | None = None
    rolls_back: bool = False
    steered: str | None = None
    events: tuple[ReleaseEvent, ...] = ()
    recheck_in: float | None = None
    #: What the release is doing, for the Progressing condition (None: no release runs).
    progress: str | None = None


def measurement_due(ms: Microservice, now: str) -> bool:
    """Whether reconcile should measure the canary (or preview) this pass."""
    analysis = release_analysis(ms.spec.rollout)
    state = ms.status.rollout.release
    if analysis is None or state is None:
        return False
    if state.generation != ms.metadata.generation or state.paused or not _serves(ms, state):
        return False
    steps = release_steps(ms.spec.rollout)
    if state.step >= len(steps) or state.analysis.measured_at is None:
        return False
    return _seconds(state.analysis.measured_at, now) >= analysis.interval_seconds


def _serves(ms: Microservice, state: ReleaseState) -> bool:
    """Whether the new version has pods to measure: a canary with a weight, a preview
    from the start (it runs as many pods as the active side)."""
    return state.weight > 0 or ms.spec.rollout.strategy == "BlueGreen"


def plan_canary(ms: Microservice, rendered: dict[str, Any], seen: CanarySeen) -> CanaryPlan:
    """The release for this pass (see the module docstring); rolling.py's for the Rolling
    strategy and for a first release."""
    command = pending_command(ms.metadata.annotations, ms.status.rollout.steered)
    steered = command.id if command else ms.status.rollout.steered
    stable, state = seen.stable, ms.status.rollout.release
    if stable is None or not release_steps(ms.spec.rollout):
        # A first release has nothing to compare with; the Rolling strategy is rolling.py's.
        return _rolling(ms, rendered, seen, steered)
    running = stable["spec"]["template"]
    generation = ms.metadata.generation
    if find_drift(rendered["spec"]["template"], running) is None:
        if state is not None and state.generation == generation and _promoting(ms, state):
            return _Release(ms, rendered, seen, state, steered).promote()
        plan = _rolling(ms, rendered, seen, steered)
        if state is None:
            return plan
        message = (
            f"the stable Deployment already runs what generation {generation} asks for: "
            f"the release of {state.image} ends and its canary is removed"
        )
        return _replace(plan, events=(ReleaseEvent("Normal", "ReleaseCancelled", message),))
    held = ms.status.rollout.held
    aborted = held is not None and held.generation == generation and held.reason == "Aborted"
    if aborted:
        if command is not None and command.verb == "retry":
            fresh = _start(ms, seen.now)
            event = ReleaseEvent("Normal", "Retried", f"release of {ms.spec.image} started again")
            return _Release(ms, rendered, seen, fresh, steered, [event]).begin()
        return CanaryPlan(with_template(rendered, running), held=held, steered=steered)
    if state is None or state.generation != generation:
        if not spec_changed(ms) and state is None:
            return _rolling(ms, rendered, seen, steered)  # drift, or kubectl rollout undo
        fresh = _start(ms, seen.now)
        steps = len(release_steps(ms.spec.rollout))
        message = f"{_kind(ms)} of {ms.spec.image} started: {steps} steps"
        if state is not None:
            message += f", replacing the release of generation {state.generation}"
        started = ReleaseEvent("Normal", "ReleaseStarted", message)
        return _Release(ms, rendered, seen, fresh, steered, [started]).begin()
    return _Release(ms, rendered, seen, state, steered).run(command)


def _start(ms: Microservice, now: str) -> ReleaseState:
    strategy = "BlueGreen" if ms.spec.rollout.strategy == "BlueGreen" else "Canary"
    return ReleaseState(
        strategy=strategy,
        generation=ms.metadata.generation,
        image=ms.spec.image,
        step=0,
        step_started_at=now,
    )


def _kind(ms: Microservice) -> str:
    """What the new version's side is called: "canary", or "preview" (BlueGreen)."""
    return "preview" if ms.spec.rollout.strategy == "BlueGreen" else "canary"


def _promoting(ms: Microservice, state: ReleaseState) -> bool:
    steps = release_steps(ms.spec.rollout)
    return bool(steps) and state.step >= len(steps)


def _rolling(
    ms: Microservice, rendered: dict[str, Any], seen: CanarySeen, steered: str | None
) -> CanaryPlan:
    plan = plan_rolling(ms, rendered, seen.stable, seen.replica_sets, now=seen.now)
    return CanaryPlan(plan.deployment, held=plan.held, rolls_back=plan.rolls_back, steered=steered)


def _replace(plan: CanaryPlan, **changes: Any) -> CanaryPlan:
    return CanaryPlan(**{**plan.__dict__, **changes})


@dataclass
class _Release:
    """One pass of a release in progress: commands, measurements, then steps."""

    ms: Microservice
    rendered: dict[str, Any]
    seen: CanarySeen
    state: ReleaseState
    steered: str | None
    events: list[ReleaseEvent] = field(default_factory=list)
    recheck_in: float | None = None

    @property
    def steps(self) -> tuple[CanaryStep, ...]:
        return release_steps(self.ms.spec.rollout)

    def describe(self, index: int) -> str:
        return describe_step(self.ms.spec.rollout, index)

    @property
    def stable_replicas(self) -> int:
        assert self.seen.stable is not None
        return int(self.seen.stable["spec"].get("replicas", 1))

    @property
    def running(self) -> dict[str, Any]:
        assert self.seen.stable is not None
        return dict(self.seen.stable["spec"]["template"])

    def canary_for(self, weight: int) -> dict[str, Any]:
        replicas = router_for(self.ms).canary_replicas(weight, self.stable_replicas)
        return build_canary_deployment(self.ms, replicas)

    def note(self, type_: Literal["Normal", "Warning"], reason: str, message: str) -> None:
        self.events.append(ReleaseEvent(type_, reason, message))

    def later(self, seconds: float) -> None:
        seconds = max(seconds, 0.5)
        self.recheck_in = seconds if self.recheck_in is None else min(self.recheck_in, seconds)

    def update(self, **changes: Any) -> None:
        self.state = self.state.model_copy(update=changes)

    def update_analysis(self, **changes: Any) -> None:
        self.update(analysis=self.state.analysis.model_copy(update=changes))

    # --- the pass --------------------------------------------------------------------

    def begin(self) -> CanaryPlan:
        self.enter_step()
        return self.run(None)

    def run(self, command: Command | None) -> CanaryPlan:
        if command is not None:
            aborted = self.steer(command)
            if aborted is not None:
                return aborted
        if self.seen.measurements is not None:
            aborted = self.judge(self.seen.measurements)
            if aborted is not None:
                return aborted
        aborted = self.check_deadline()
        if aborted is not None:
            return aborted
        self.walk()
        if _promoting(self.ms, self.state):
            return self.promote()
        self.start_window()
        return self.plan(with_template(self.rendered, self.running))

    def steer(self, command: Command) -> CanaryPlan | None:
        now, n = self.seen.now, len(self.steps)
        if command.verb == "abort":
            return self.abort("aborted by kubectl shopmesh abort")
        if command.verb == "pause":
            self.update(paused="Paused", pause_message="paused by kubectl shopmesh pause")
            self.note("Normal", "Paused", f"step {self.state.step + 1}/{n}: paused by a user")
        elif command.verb == "resume" and self.state.paused:
            self.update(paused=None, pause_message="")
            self.update_analysis(measured_at=None)  # a fresh window from now on
            self.note("Normal", "Resumed", f"step {self.state.step + 1}/{n}: resumed by a user")
        elif command.verb == "promote":
            target = n if command.full else min(self.state.step + 1, n)
            skipped = ", ".join(self.describe(i) for i in range(self.state.step, target))
            self.update(paused=None, pause_message="", step=target, step_started_at=now)
            self.update_analysis(passes=0)
            self.note("Normal", "PromotedByUser", f"kubectl shopmesh promote: skipped {skipped}")
            self.enter_step()
        return None

    def judge(self, measurements: Sequence[Measurement]) -> CanaryPlan | None:
        analysis = release_analysis(self.ms.spec.rollout)
        assert analysis is not None  # measured only when there is an analysis
        kept = (self.state.analysis.measurements + tuple(measurements))[-MEASUREMENTS_KEPT:]
        self.update_analysis(measured_at=self.seen.now, measurements=kept)
        bad = failed(measurements)
        if bad is not None:
            failures = self.state.analysis.failures + 1
            self.update_analysis(failures=failures, passes=0)
            said = f"{bad.message} (threshold {bad.threshold}, {_requests(bad)})"
            limit = analysis.failure_limit
            self.note("Warning", "AnalysisFailed", f"{said}; failure {failures}/{limit}")
            if failures >= analysis.failure_limit:
                return self.abort(f"analysis failed: {said}")
            return None
        unsure = inconclusive(measurements)
        if unsure is not None:
            message = f"analysis inconclusive: {unsure.metric}: {unsure.message}"
            self.update(paused="Inconclusive", pause_message=message)
            self.update_analysis(passes=0)
            self.note("Warning", "AnalysisInconclusive", f"{message}; the release pauses")
            return None
        self.update_analysis(passes=self.state.analysis.passes + 1)
        values = ", ".join(f"{m.metric} {m.value:.4g} ({m.threshold})" for m in measurements)
        self.note("Normal", "AnalysisPassed", values)
        return None

    def check_deadline(self) -> CanaryPlan | None:
        """The canary's pods must become available within the progress deadline."""
        if self.state.paused or _promoting(self.ms, self.state):
            return None
        if not _serves(self.ms, self.state) or self.canary_available(self.state.weight):
            return None
        deadline = self.ms.spec.rollout.progress_deadline_seconds
        waited = _seconds(self.state.step_started_at, self.seen.now)
        if waited < deadline:
            self.later(deadline - waited)
            return None
        kind = _kind(self.ms)
        return self.abort(f"the {kind}'s pods did not become available within {deadline}s")

    def walk(self) -> None:
        """Go through every step that is done, in order."""
        while not self.state.paused and self.state.step < len(self.steps):
            step, waited = self.steps[self.state.step], self.elapsed()
            if step.set_weight is not None:
                if self.state.weight != step.set_weight:
                    self.update(weight=step.set_weight)
                if not self.canary_available(step.set_weight):
                    return  # the canary Deployment's events bring the next pass
            elif step.pause is not None:
                if step.pause.duration is None:
                    message = "waiting for kubectl shopmesh promote"
                    self.update(paused="PauseStep", pause_message=message)
                    return
                remaining = _duration_seconds(step.pause.duration) - waited
                if remaining > 0:
                    self.later(remaining)
                    return
            elif step.analysis is not None and not self.analysis_step_done(step.analysis):
                return
            self.update(step=self.state.step + 1, step_started_at=self.seen.now)
            self.update_analysis(passes=0)
            self.enter_step()

    def analysis_step_done(self, step: AnalysisStep) -> bool:
        return self.state.analysis.passes >= step.measurements

    def enter_step(self) -> None:
        n, i = len(self.steps), self.state.step
        if i < n:
            what = self.describe(i)
            weight = self.state.weight
            self.note("Normal", "CanaryStep", f"step {i + 1}/{n}: {what} (weight {weight}%)")
        else:
            self.note("Normal", "Promoting", f"every step passed: promoting {self.ms.spec.image}")

    def start_window(self) -> None:
        """The first analysis window opens when the canary takes traffic."""
        analysis = release_analysis(self.ms.spec.rollout)
        if analysis is None or self.state.paused or not _serves(self.ms, self.state):
            return
        measured_at = self.state.analysis.measured_at
        if measured_at is None:
            if self.canary_available(self.state.weight):
                self.update_analysis(measured_at=self.seen.now)
                self.later(analysis.interval_seconds)
            return
        self.later(analysis.interval_seconds - _seconds(measured_at, self.seen.now))

    def elapsed(self) -> float:
        return _seconds(self.state.step_started_at, self.seen.now)

    def canary_available(self, weight: int) -> bool:
        return _available(self.seen.canary, self.canary_for(weight))

    # --- outcomes --------------------------------------------------------------------

    def plan(self, deployment: dict[str, Any]) -> CanaryPlan:
        router = router_for(self.ms)
        canary = self.canary_for(self.state.weight)
        pods, stable = canary["spec"]["replicas"], self.stable_replicas
        share = router.share(self.state.weight, pods, stable)
        n, i = len(self.steps), self.state.step
        where = f"step {i + 1}/{n} ({self.describe(i)})" if i < n else "promoting"
        kind = _kind(self.ms)
        progress = (
            f"{kind} {self.state.image}: {where}, weight {self.state.weight}%: {pods} {kind} "
            f"pod(s) beside {stable} stable ({share:.0f}% of requests, {router.name} routing)"
        )
        if self.state.paused:
            progress += f"; paused: {self.state.pause_message}"
        return CanaryPlan(
            deployment=deployment,
            canary=canary,
            weight=self.state.weight,
            state=self.state,
            steered=self.steered,
            events=tuple(self.events),
            recheck_in=self.recheck_in,
            progress=progress,
        )

    def promote(self) -> CanaryPlan:
        """Every step passed: the stable Deployment takes the spec's template; the canary
        serves until it has rolled out, then goes."""
        assert self.seen.stable is not None
        if _available(self.seen.stable, self.rendered, self.stable_replicas):
            message = f"{self.ms.spec.image} promoted: the stable Deployment runs it"
            self.note("Normal", "Promoted", f"{message}; the {_kind(self.ms)} is removed")
            return CanaryPlan(
                deployment=self.rendered, steered=self.steered, events=tuple(self.events)
            )
        return self.plan(self.rendered)

    def abort(self, why: str) -> CanaryPlan:
        """Weight back to 0, the canary removed; the stable Deployment serves on."""
        held = HeldRelease(
            generation=self.ms.metadata.generation,
            reason="Aborted",
            running_image=image_of(self.running),
            message=(
                f"{why}; {image_of(self.running)} serves all traffic. "
                "kubectl shopmesh retry starts the release again; a spec change releases anew"
            ),
            at=self.seen.now,
        )
        self.note("Warning", "Aborted", held.message)
        return CanaryPlan(
            deployment=with_template(self.rendered, self.running),
            held=held,
            steered=self.steered,
            events=tuple(self.events),
        )


def _available(
    live: dict[str, Any] | None, wanted: dict[str, Any], replicas: int | None = None
) -> bool:
    """Whether `live` runs `wanted`'s template on every one of its pods, all available."""
    if live is None:
        return False
    if find_drift(wanted["spec"]["template"], live["spec"].get("template")) is not None:
        return False
    want = wanted["spec"].get("replicas", replicas)
    status = live.get("status", {})
    caught_up = status.get("observedGeneration", 0) >= live["metadata"].get("generation", 0)
    if want is None or live["spec"].get("replicas", want) != want or not caught_up:
        return False
    return bool(
        status.get("updatedReplicas", 0) == want
        and status.get("availableReplicas", 0) >= want
        and status.get("replicas", 0) == want
    )


def _requests(measurement: Measurement) -> str:
    return "no requests" if measurement.requests is None else f"{measurement.requests:.0f} requests"


def _seconds(since: str, now: str) -> float:
    return (_parse(now) - _parse(since)).total_seconds()


def _parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def _duration_seconds(text: str) -> float:
    return duration_ms(text) / 1000
