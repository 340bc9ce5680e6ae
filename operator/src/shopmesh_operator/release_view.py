"""A Microservice's release as `kubectl shopmesh` shows it: the `ReleaseView`, where a
Canary or BlueGreen release stands in words (`describe_progress`, `release_state`), and
the rich rendering of `kubectl shopmesh status` (`print_status`).

Pure apart from printing to the console it is given. Used by kubectl_shopmesh.py, which
reads the resource into a ReleaseView (`release_view`) and does the I/O; like it, this
imports only models and steps.py (no aiohttp), so the plugin starts fast. Steps are said
as the operator's events say them (steps.describe_step).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from shopmesh_operator import constants as c
from shopmesh_operator.models import (
    CanaryStep,
    HeldRelease,
    Measurement,
    Release,
    ReleaseState,
    Rollout,
    RolloutStatus,
)
from shopmesh_operator.steps import describe_step, release_steps


@dataclass(frozen=True)
class ReleaseView:
    """A Microservice's release, as `status` prints it."""

    name: str
    namespace: str
    generation: int
    phase: str
    spec_image: str
    ready: str
    conditions: tuple[tuple[str, str, str, str], ...]
    rollout: RolloutStatus
    #: spec.rollout: the strategy and the steps its releases walk.
    spec_rollout: Rollout

    @property
    def strategy(self) -> str:
        return self.spec_rollout.strategy

    @property
    def steps(self) -> tuple[CanaryStep, ...]:
        """The steps of a release (empty for the Rolling strategy)."""
        return release_steps(self.spec_rollout)

    @property
    def held(self) -> HeldRelease | None:
        return self.rollout.held

    @property
    def history(self) -> tuple[Release, ...]:
        return self.rollout.history

    @property
    def release(self) -> ReleaseState | None:
        return self.rollout.release

    @property
    def stable(self) -> str:
        return self.rollout.stable_image or "the stable version"

    @property
    def running_image(self) -> str:
        release = self.release
        if release is None:
            return self.held.running_image if self.held else self.spec_image
        if release.strategy == "BlueGreen":
            if switched(release):
                return f"{release.image} (active), {self.stable} (previous)"
            return f"{self.stable} (active), {release.image} (preview)"
        canary = f"{release.image} (canary)"
        stable = self.rollout.stable_image
        return f"{stable} (stable), {canary}" if stable else canary


def switched(release: ReleaseState) -> bool:
    """Whether a blue-green release's `<name>` Service selects the new version's pods."""
    return release.strategy == "BlueGreen" and release.weight >= 100


def active_image(view: ReleaseView, release: ReleaseState) -> str:
    """The image serving live traffic: the stable one until the switch, the new one after."""
    return release.image if switched(release) else view.stable


def describe_progress(rollout: Rollout, release: ReleaseState) -> str:
    """Where a release is: "step 2/5 (pause 30s)", or "promoting (all 5 steps done)"
    while the stable Deployment is given the new image."""
    steps = release_steps(rollout)
    if release.step >= len(steps):
        return f"promoting (all {len(steps)} steps done)"
    return f"step {release.step + 1}/{len(steps)} ({describe_step(rollout, release.step)})"


def release_state(view: ReleaseView, release: ReleaseState) -> str:
    """A release in one line: a canary's "step 2/5 (pause 30s), weight 20%, paused
    (Paused: why)"; a blue-green one's "step 3/5 (pause until promoted), active <image>"."""
    why = f": {release.pause_message}" if release.pause_message else ""
    paused = f", paused ({release.paused}{why})" if release.paused else ""
    progress = describe_progress(view.spec_rollout, release)
    if release.strategy == "BlueGreen":
        return f"{progress}, active {active_image(view, release)}{paused}"
    return f"{progress}, weight {release.weight}%{paused}"


def print_status(out: Console, view: ReleaseView) -> None:
    """`kubectl shopmesh status`: phase, images, the held release, the release in
    progress, conditions, history."""
    out.print(
        f"[bold]{view.namespace}/{view.name}[/]  {view.strategy}  phase [bold]{view.phase}[/]"
        f"  ready {view.ready}"
    )
    out.print(f"spec image     {view.spec_image}", markup=False)
    out.print(f"running image  {view.running_image}", markup=False)
    if view.held:
        out.print(f"[yellow]held: {view.held.reason}[/] — {escape(view.held.message)}")
    if view.release:
        _print_release(out, view, view.release)
    conditions = Table("condition", "status", "reason", "message", title="conditions")
    for row in view.conditions:
        conditions.add_row(*(escape(cell) for cell in row))
    out.print(conditions)
    if view.history:
        history = Table("generation", "image", "outcome", "at", title="releases")
        for release in view.history:
            history.add_row(str(release.generation), release.image, release.outcome, release.at)
        out.print(history)


def _print_release(out: Console, view: ReleaseView, release: ReleaseState) -> None:
    kind = "preview" if release.strategy == "BlueGreen" else "canary"
    out.print(f"{kind:<15}{release.image}  {release_state(view, release)}", markup=False)
    if release.strategy == "BlueGreen":
        preview = f"{view.name}-{c.TRACK_PREVIEW}"
        live = f"Service {view.name} -> {active_image(view, release)} (active, live traffic)"
        out.print(f"traffic        {live}; Service {preview} -> {release.image}", markup=False)
    if release.paused:
        out.print(f"[yellow]paused: {release.paused}[/] — {escape(release.pause_message)}")
    analysis = release.analysis
    if not analysis.measurements:
        return
    title = f"analysis: {analysis.passes} passed in a row, {analysis.failures} failed"
    table = Table(
        "metric", "value", "threshold", "verdict", "requests", "at", "message", title=title
    )
    for measurement in analysis.measurements:
        table.add_row(*measurement_row(measurement))
    out.print(table)


_VERDICT_STYLE = {"Successful": "green", "Failed": "red", "Inconclusive": "yellow"}


def measurement_row(measurement: Measurement) -> tuple[str, ...]:
    """One row of the analysis table (rich markup: only the verdict is coloured)."""
    value = "no data" if measurement.value is None else f"{measurement.value:.6g}"
    requests = "-" if measurement.requests is None else f"{measurement.requests:.0f}"
    colour = _VERDICT_STYLE[measurement.verdict]
    return (
        escape(measurement.metric),
        value,
        escape(measurement.threshold),
        f"[{colour}]{measurement.verdict}[/]",
        requests,
        escape(measurement.at),
        escape(measurement.message),
    )
