"""The steps a Canary or BlueGreen release walks, and how people read them.

A Canary release walks `rollout.canary.steps`. A BlueGreen release walks fixed steps
derived from `rollout.blueGreen`, so both run on one step machine (canary.py):

1. preview: the new version's pods (`<name>-preview`, as many as the active side
   runs) come up behind the `<name>-preview` Service; weight 0, no live traffic;
2. analysis xN (with `blueGreen.analysis`): N measurements of the preview's pods in a
   row pass (whoever sends it traffic: smoke tests, people);
3. auto-promotion after `autoPromotionSeconds`, or a pause until
   `kubectl shopmesh promote`;
4. switch: the `<name>` Service's selector moves to the preview's pods in one update
   (weight 100);
5. scale-down delay `scaleDownDelaySeconds`: the old pods stay, so an abort is instant;
   then the stable Deployment takes the new template and the preview goes.

Used by canary.py, and by kubectl_shopmesh.py, which must not import aiohttp (so this
module imports only models).
"""

from __future__ import annotations

from shopmesh_operator.models import Analysis, AnalysisStep, BlueGreen, CanaryStep, Pause, Rollout


def release_steps(rollout: Rollout) -> tuple[CanaryStep, ...]:
    """The steps of a release under `rollout`; empty for the Rolling strategy."""
    if rollout.strategy == "Canary" and rollout.canary is not None:
        return rollout.canary.steps
    if rollout.strategy != "BlueGreen":
        return ()
    blue_green = rollout.blue_green or BlueGreen()
    steps = [CanaryStep(set_weight=0)]
    if blue_green.analysis is not None:
        measurements = blue_green.pre_promotion_measurements
        steps.append(CanaryStep(analysis=AnalysisStep(measurements=measurements)))
    auto = blue_green.auto_promotion_seconds
    steps.append(CanaryStep(pause=Pause(duration=None if auto is None else f"{auto}s")))
    steps.append(CanaryStep(set_weight=100))
    if blue_green.scale_down_delay_seconds:
        delay = f"{blue_green.scale_down_delay_seconds}s"
        steps.append(CanaryStep(pause=Pause(duration=delay)))
    return tuple(steps)


def release_analysis(rollout: Rollout) -> Analysis | None:
    """The analysis of a release under `rollout`, if it has one."""
    if rollout.strategy == "Canary" and rollout.canary is not None:
        return rollout.canary.analysis
    if rollout.strategy == "BlueGreen" and rollout.blue_green is not None:
        return rollout.blue_green.analysis
    return None


def describe_step(rollout: Rollout, index: int) -> str:
    """One step as people read it: "setWeight 20", "pause 30s", "pause until promoted",
    "analysis x3"; for BlueGreen "preview", "auto-promotion after 30s", "switch",
    "scale-down delay 30s"."""
    step = release_steps(rollout)[index]
    if step.analysis is not None:
        return f"analysis x{step.analysis.measurements}"
    if rollout.strategy == "BlueGreen":
        if step.set_weight is not None:
            return "preview" if step.set_weight == 0 else "switch"
        assert step.pause is not None
        if index > switch_step(rollout):
            return f"scale-down delay {step.pause.duration}"
        if step.pause.duration is None:
            return "pause until promoted"
        return f"auto-promotion after {step.pause.duration}"
    if step.set_weight is not None:
        return f"setWeight {step.set_weight}"
    assert step.pause is not None
    return f"pause {step.pause.duration}" if step.pause.duration else "pause until promoted"


def switch_step(rollout: Rollout) -> int:
    """The index of a blue-green release's switch (-1 for other strategies)."""
    if rollout.strategy != "BlueGreen":
        return -1
    steps = release_steps(rollout)
    return next(i for i, step in enumerate(steps) if step.set_weight == 100)
