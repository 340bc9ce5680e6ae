"""`kubectl shopmesh`: what a status means (pure), and each verb against a stand-in for
kubectl that answers as the real one does, with a stand-in for the operator's next pass
that carries out a steering command (the e2e suite runs the real ones)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from shopmesh_operator import kubectl_shopmesh as plugin
from shopmesh_operator import steering
from shopmesh_operator.kubectl_shopmesh import (
    PluginError,
    Verdict,
    refusal,
    release_view,
    steered_message,
    undo_target,
    verdict,
)
from shopmesh_operator.models import Measurement, ReleaseState, Rollout
from shopmesh_operator.release_view import describe_progress, measurement_row
from shopmesh_operator.steering import Verb
from shopmesh_operator.steps import describe_step, release_steps

V1, V2 = "shop/pay:1", "shop/pay:2"
#: Five steps, one of each kind and both kinds of pause.
STEPS = [
    {"setWeight": 20},
    {"pause": {}},
    {"setWeight": 50},
    {"analysis": {"measurements": 2}},
    {"pause": {"duration": "30s"}},
]
ANALYSIS = {"metrics": [{"name": "success-rate", "min": 99}]}
CANARY = {"strategy": "Canary", "canary": {"steps": STEPS, "analysis": ANALYSIS}}
#: Five steps: preview, analysis x2, pause until promoted, switch, scale-down delay 30s.
BLUE_GREEN = {
    "strategy": "BlueGreen",
    "blueGreen": {"scaleDownDelaySeconds": 30, "prePromotionMeasurements": 2, "analysis": ANALYSIS},
}
#: The index of BLUE_GREEN's switch step: from it on the `pay` Service selects V2.
SWITCH = 3


def _body(
    *,
    generation: int = 2,
    observed: int = 2,
    phase: str = "Ready",
    image: str = V2,
    held: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    strategy: str = "Rolling",
    release: dict[str, Any] | None = None,
    stable: str | None = None,
) -> dict[str, Any]:
    rollout: dict[str, Any] = {"history": history or []}
    if stable:
        rollout["stableImage"] = stable
    if held:
        rollout["held"] = held
    if release:
        rollout["release"] = release
    spec_rollout = {"Canary": CANARY, "BlueGreen": BLUE_GREEN}.get(strategy, {"strategy": strategy})
    return {
        "metadata": {"name": "pay", "namespace": "shop", "generation": generation},
        "spec": {"image": image, "replicas": 2, "rollout": spec_rollout},
        "status": {
            "observedGeneration": observed,
            "phase": phase,
            "replicas": 2,
            "readyReplicas": 2,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Available"}],
            "rollout": rollout,
        },
    }


def _canary_body(**kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("phase", "Progressing")
    return _body(strategy="Canary", stable=V1, **kwargs)


def _blue_green_body(**kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault("phase", "Progressing")
    return _body(strategy="BlueGreen", stable=V1, **kwargs)


def _canary(
    step: int = 0,
    *,
    weight: int = 20,
    paused: str | None = None,
    message: str = "",
    measurements: tuple[dict[str, Any], ...] = (),
) -> dict[str, Any]:
    status: dict[str, Any] = {
        "generation": 2,
        "image": V2,
        "step": step,
        "stepStartedAt": "2026-12-03T12:00:00Z",
        "weight": weight,
        "pauseMessage": message,
        "analysis": {"failures": 0, "passes": 1, "measurements": list(measurements)},
    }
    if paused:
        status["paused"] = paused
    return status


def _blue_green(step: int = 0, **kwargs: Any) -> dict[str, Any]:
    """status.rollout.release of a BLUE_GREEN release at `step`: weight 100 once switched."""
    kwargs.setdefault("weight", 100 if step >= SWITCH else 0)
    return {**_canary(step, **kwargs), "strategy": "BlueGreen"}


def _held(reason: str, generation: int = 2) -> dict[str, Any]:
    return {
        "generation": generation,
        "reason": reason,
        "runningImage": V1,
        "message": f"{V2} did not become ready within 20s; rolled back to {V1}",
        "at": "2026-12-03T12:00:00Z",
    }


def _release(generation: int, image: str, outcome: str) -> dict[str, Any]:
    return {"generation": generation, "image": image, "outcome": outcome, "at": "t"}


def _measurement(**fields: Any) -> dict[str, Any]:
    return {
        "metric": "success-rate",
        "value": 99.5,
        "threshold": ">= 99",
        "verdict": "Successful",
        "requests": 120.0,
        "message": "",
        "at": "2026-12-03T12:00:30Z",
        **fields,
    }


# --- pure: what a status means ----------------------------------------------------------


@pytest.mark.parametrize(
    ("rollout", "expected"),
    [
        pytest.param(
            CANARY,
            ["setWeight 20", "pause until promoted", "setWeight 50", "analysis x2", "pause 30s"],
            id="canary: its own steps",
        ),
        pytest.param(
            {
                "strategy": "Canary",
                "canary": {"steps": [{"setWeight": 0}, {"analysis": {}}], "analysis": ANALYSIS},
            },
            ["setWeight 0", "analysis x3"],
            id="canary: weight zero is a weight, analysis x3 by default",
        ),
        pytest.param(
            {"strategy": "BlueGreen"},
            ["preview", "pause until promoted", "switch", "scale-down delay 30s"],
            id="blue-green: defaults",
        ),
        pytest.param(
            {"strategy": "BlueGreen", "blueGreen": {"autoPromotionSeconds": 20}},
            ["preview", "auto-promotion after 20s", "switch", "scale-down delay 30s"],
            id="blue-green: auto-promotion",
        ),
        pytest.param(
            {"strategy": "BlueGreen", "blueGreen": {"scaleDownDelaySeconds": 0}},
            ["preview", "pause until promoted", "switch"],
            id="blue-green: no scale-down delay",
        ),
        pytest.param(
            BLUE_GREEN,
            ["preview", "analysis x2", "pause until promoted", "switch", "scale-down delay 30s"],
            id="blue-green: analysis before promotion",
        ),
        pytest.param({"strategy": "Rolling"}, [], id="rolling: no steps"),
    ],
)
def test_describe_step(rollout: dict[str, Any], expected: list[str]) -> None:
    """What the plugin says of each step (steps.py, as the operator's events say it)."""
    parsed = Rollout.model_validate(rollout)
    steps = range(len(release_steps(parsed)))
    assert [describe_step(parsed, i) for i in steps] == expected


@pytest.mark.parametrize(
    ("rollout", "step", "expected"),
    [
        pytest.param(CANARY, 0, "step 1/5 (setWeight 20)", id="canary: first"),
        pytest.param(CANARY, 1, "step 2/5 (pause until promoted)", id="canary: second"),
        pytest.param(CANARY, 4, "step 5/5 (pause 30s)", id="canary: last"),
        pytest.param(CANARY, 5, "promoting (all 5 steps done)", id="canary: every step done"),
        pytest.param(BLUE_GREEN, 0, "step 1/5 (preview)", id="blue-green: preview"),
        pytest.param(BLUE_GREEN, 1, "step 2/5 (analysis x2)", id="blue-green: analysis"),
        pytest.param(BLUE_GREEN, 3, "step 4/5 (switch)", id="blue-green: switch"),
        pytest.param(BLUE_GREEN, 4, "step 5/5 (scale-down delay 30s)", id="blue-green: delay"),
        pytest.param(BLUE_GREEN, 5, "promoting (all 5 steps done)", id="blue-green: done"),
    ],
)
def test_describe_progress(rollout: dict[str, Any], step: int, expected: str) -> None:
    parsed = Rollout.model_validate(rollout)
    assert describe_progress(parsed, ReleaseState.model_validate(_canary(step))) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(_body(), Verdict.RELEASED, id="ready at this generation"),
        pytest.param(_body(observed=1), Verdict.RUNNING, id="not judged yet"),
        pytest.param(_body(phase="Progressing"), Verdict.RUNNING, id="rolling out"),
        pytest.param(_body(held=_held("RolledBack")), Verdict.ROLLED_BACK, id="rolled back"),
        pytest.param(_body(held=_held("RolloutUndone")), Verdict.ROLLED_BACK, id="undone"),
        pytest.param(_body(phase="Failed"), Verdict.ROLLED_BACK, id="refused by the API"),
        pytest.param(
            _body(generation=3, held=_held("RolledBack", generation=2)),
            Verdict.RUNNING,
            id="an older generation's rollback",
        ),
        pytest.param(_canary_body(release=_canary(2)), Verdict.RUNNING, id="canary: at a step"),
        pytest.param(
            _canary_body(phase="Ready", history=[_release(1, V1, "Released")]),
            Verdict.RUNNING,
            id="canary: Ready is not enough, the history has no entry for this generation",
        ),
        pytest.param(
            _canary_body(release=_canary(5), history=[_release(2, V2, "Released")]),
            Verdict.RUNNING,
            id="canary: still promoting",
        ),
        pytest.param(
            _canary_body(history=[_release(1, V1, "Released"), _release(2, V2, "Released")]),
            Verdict.RELEASED,
            id="canary: released at this generation, no canary left",
        ),
        pytest.param(
            _canary_body(history=[_release(2, V2, "Released"), _release(2, V2, "Aborted")]),
            Verdict.RUNNING,
            id="canary: only the newest entry counts",
        ),
        pytest.param(
            _canary_body(held=_held("Aborted"), history=[_release(2, V2, "Aborted")]),
            Verdict.ROLLED_BACK,
            id="canary: aborted",
        ),
        pytest.param(
            _canary_body(generation=3, held=_held("Aborted"), release=_canary(0)),
            Verdict.RUNNING,
            id="canary: an older generation's abort",
        ),
        pytest.param(
            _blue_green_body(release=_blue_green(2, paused="PauseStep")),
            Verdict.RUNNING,
            id="blue-green: waits for promote",
        ),
        pytest.param(
            _blue_green_body(release=_blue_green(5), history=[_release(2, V2, "Released")]),
            Verdict.RUNNING,
            id="blue-green: still promoting",
        ),
        pytest.param(
            _blue_green_body(
                phase="Ready", history=[_release(1, V1, "Released"), _release(2, V2, "Released")]
            ),
            Verdict.RELEASED,
            id="blue-green: released at this generation, no release left",
        ),
        pytest.param(
            _blue_green_body(held=_held("Aborted"), history=[_release(2, V2, "Aborted")]),
            Verdict.ROLLED_BACK,
            id="blue-green: aborted",
        ),
    ],
)
def test_verdict(body: dict[str, Any], expected: Verdict) -> None:
    assert verdict(body) is expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(_body(), V2, id="rolling"),
        pytest.param(_body(held=_held("RolledBack")), V1, id="held back"),
        pytest.param(
            _canary_body(release=_canary(1)), f"{V1} (stable), {V2} (canary)", id="canary"
        ),
        pytest.param(
            _blue_green_body(release=_blue_green(SWITCH - 1)),
            f"{V1} (active), {V2} (preview)",
            id="blue-green before the switch",
        ),
        pytest.param(
            _blue_green_body(release=_blue_green(SWITCH + 1)),
            f"{V2} (active), {V1} (previous)",
            id="blue-green after the switch",
        ),
    ],
)
def test_running_image(body: dict[str, Any], expected: str) -> None:
    assert release_view(body).running_image == expected


def test_a_status_this_plugin_cannot_read_is_a_clear_error() -> None:
    body = _canary_body(release={**_canary(1), "paused": "Sleepy"})
    with pytest.raises(PluginError, match=r"shop/pay: status.rollout is not what this plugin"):
        release_view(body)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {},
            ("success-rate", "99.5", ">= 99", "[green]Successful[/]", "120"),
            id="passed",
        ),
        pytest.param(
            {"value": None, "requests": None, "verdict": "Inconclusive"},
            ("success-rate", "no data", ">= 99", "[yellow]Inconclusive[/]", "-"),
            id="no data",
        ),
        pytest.param(
            {"metric": "latency-p99", "value": 812.3456, "threshold": "<= 500ms"},
            ("latency-p99", "812.346", "<= 500ms", "[green]Successful[/]", "120"),
            id="rounded",
        ),
    ],
)
def test_measurement_row(fields: dict[str, Any], expected: tuple[str, ...]) -> None:
    assert measurement_row(Measurement.model_validate(_measurement(**fields)))[:5] == expected


def test_a_measurement_message_is_not_read_as_markup() -> None:
    row = measurement_row(Measurement.model_validate(_measurement(message="code [red] 503")))
    assert row[-1] == r"code \[red] 503"


ROLLING = "{verb} steers BlueGreen and Canary releases; shop/pay uses Rolling"
NOT_IN_PROGRESS = "nothing to {verb}: shop/pay has no release in progress (phase Ready)"
WAS_ABORTED = (
    "nothing to {verb}: the release of shop/pay was aborted (shop/pay:1 runs); "
    "`kubectl shopmesh retry` starts it again"
)
ABORTED = _canary_body(phase="Degraded", held=_held("Aborted"))
AT_STEP = _canary_body(release=_canary(2, weight=50))
PAUSED = _canary_body(release=_canary(1, paused="PauseStep", message="waiting for promote"))
INCONCLUSIVE = _canary_body(release=_canary(3, paused="Inconclusive", message="3 requests"))
RELEASED = _canary_body(phase="Ready", history=[_release(2, V2, "Released")])
BG_PAUSED = _blue_green_body(
    release=_blue_green(2, paused="PauseStep", message="waiting for kubectl shopmesh promote")
)
BG_SWITCHED = _blue_green_body(release=_blue_green(SWITCH + 1))
BG_ABORTED = _blue_green_body(phase="Degraded", held=_held("Aborted"))
BG_RELEASED = _blue_green_body(phase="Ready", history=[_release(2, V2, "Released")])


@pytest.mark.parametrize(
    ("verbs", "body", "expected"),
    [
        pytest.param(steering.VERBS, _body(), ROLLING, id="rolling: no verb"),
        pytest.param(("promote", "abort"), AT_STEP, None, id="at a step: promote, abort"),
        pytest.param(("pause",), AT_STEP, None, id="at a step: pause"),
        pytest.param(
            ("resume",),
            AT_STEP,
            "nothing to resume: the release of shop/pay is not paused; it is at step 3/5 "
            "(setWeight 50), weight 50%",
            id="at a step: resume is for a paused one",
        ),
        pytest.param(
            ("retry",),
            AT_STEP,
            "nothing to retry: the release of shop/pay was not aborted",
            id="at a step: retry is for an aborted one",
        ),
        pytest.param(("promote", "abort"), PAUSED, None, id="at a pause step: promote, abort"),
        pytest.param(
            ("resume",),
            PAUSED,
            "nothing to resume: shop/pay waits at step 2/5 (pause until promoted); `kubectl "
            "shopmesh promote` continues",
            id="at a pause step: resume would pause again",
        ),
        pytest.param(
            ("pause",),
            PAUSED,
            "shop/pay is already paused (PauseStep: waiting for promote); `kubectl shopmesh "
            "promote` continues it",
            id="at a pause step: pause",
        ),
        pytest.param(("promote", "abort", "resume"), INCONCLUSIVE, None, id="inconclusive"),
        pytest.param(
            ("pause",),
            _canary_body(release=_canary(2, paused="Paused")),
            "shop/pay is already paused (Paused); `kubectl shopmesh resume` continues it",
            id="paused: not twice",
        ),
        pytest.param(("retry",), ABORTED, None, id="aborted: retry"),
        pytest.param(
            ("promote", "abort", "pause", "resume"), ABORTED, WAS_ABORTED, id="aborted: only retry"
        ),
        pytest.param(
            ("retry",),
            _canary_body(generation=3, held=_held("Aborted"), release=_canary(0)),
            "nothing to retry: the release of shop/pay was not aborted",
            id="an older generation's abort",
        ),
        pytest.param(
            ("promote", "abort", "pause", "resume"), RELEASED, NOT_IN_PROGRESS, id="released"
        ),
        pytest.param(
            ("retry",),
            _canary_body(phase="Degraded", held=_held("RolledBack")),
            "nothing to retry: the release of shop/pay was not aborted",
            id="rolled back is not aborted",
        ),
        pytest.param(
            ("promote", "abort"), BG_PAUSED, None, id="blue-green waiting: promote, abort"
        ),
        pytest.param(
            ("resume",),
            BG_PAUSED,
            "nothing to resume: shop/pay waits at step 3/5 (pause until promoted); `kubectl "
            "shopmesh promote` continues",
            id="blue-green waiting: resume would pause again",
        ),
        pytest.param(
            ("promote", "abort", "pause"),
            BG_SWITCHED,
            None,
            id="blue-green switched: promote, abort, pause",
        ),
        pytest.param(
            ("resume",),
            BG_SWITCHED,
            "nothing to resume: the release of shop/pay is not paused; it is at step 5/5 "
            f"(scale-down delay 30s), active {V2}",
            id="blue-green switched: resume is for a paused one",
        ),
        pytest.param(("retry",), BG_ABORTED, None, id="blue-green aborted: retry"),
        pytest.param(
            ("promote", "abort", "pause", "resume"),
            BG_ABORTED,
            WAS_ABORTED,
            id="blue-green aborted: only retry",
        ),
        pytest.param(
            ("promote", "abort", "pause", "resume"),
            BG_RELEASED,
            NOT_IN_PROGRESS,
            id="blue-green released",
        ),
    ],
)
def test_refusal(verbs: tuple[Verb, ...], body: dict[str, Any], expected: str | None) -> None:
    view = release_view(body)
    for verb in verbs:
        found = refusal(verb, view)
        if expected is None:
            assert found is None, verb
        else:
            assert found is not None, verb
            assert found.startswith(expected.format(verb=verb)), found


@pytest.mark.parametrize(
    ("verb", "body", "expected"),
    [
        pytest.param(
            "promote",
            _canary_body(release=_canary(2, weight=50)),
            "promoted pay to step 3/5 (setWeight 50), weight 50%",
            id="promote",
        ),
        pytest.param(
            "promote",
            _canary_body(release=_canary(5, weight=100)),
            "promoted pay: promoting (all 5 steps done), weight 100%",
            id="promote past the last step",
        ),
        pytest.param(
            "promote",
            _canary_body(phase="Ready", history=[_release(2, V2, "Released")]),
            f"promoted pay: released {V2}",
            id="promote --full, done in one pass",
        ),
        pytest.param(
            "abort",
            _canary_body(held=_held("Aborted")),
            f"aborted pay: back to {V1}",
            id="abort",
        ),
        pytest.param(
            "retry",
            _canary_body(release=_canary(0, weight=0)),
            "restarted pay at step 1/5 (setWeight 20), weight 0%",
            id="retry",
        ),
        pytest.param(
            "pause",
            _canary_body(release=_canary(2, weight=50, paused="Paused")),
            "paused pay at step 3/5 (setWeight 50), weight 50%, paused (Paused)",
            id="pause",
        ),
        pytest.param(
            "resume",
            _canary_body(release=_canary(3, weight=50)),
            "resumed pay at step 4/5 (analysis x2), weight 50%",
            id="resume",
        ),
        pytest.param(
            "promote",
            _canary_body(held=_held("Aborted")),
            f"promote carried out; pay stays held (Aborted), back to {V1}: ",
            id="the operator kept it aborted",
        ),
        pytest.param(
            "abort",
            _canary_body(release=_canary(2, weight=50)),
            "abort carried out; pay is still at step 3/5 (setWeight 50), weight 50%",
            id="acknowledged, yet still at a step",
        ),
        pytest.param(
            "promote",
            _blue_green_body(release=_blue_green(SWITCH)),
            f"promoted pay to step 4/5 (switch), active {V2}",
            id="blue-green: promote to the switch",
        ),
        pytest.param(
            "promote",
            _blue_green_body(release=_blue_green(5)),
            f"promoted pay: promoting (all 5 steps done), active {V2}",
            id="blue-green: promote past the last step",
        ),
        pytest.param(
            "pause",
            _blue_green_body(release=_blue_green(1, paused="Paused")),
            f"paused pay at step 2/5 (analysis x2), active {V1}, paused (Paused)",
            id="blue-green: pause",
        ),
        pytest.param("abort", BG_ABORTED, f"aborted pay: back to {V1}", id="blue-green: abort"),
        pytest.param(
            "abort",
            _blue_green_body(release=_blue_green(5)),
            f"abort carried out; pay is still at promoting (all 5 steps done), active {V2}",
            id="blue-green: too late, the stable Deployment took the new template",
        ),
    ],
)
def test_steered_message(verb: Verb, body: dict[str, Any], expected: str) -> None:
    assert steered_message(verb, release_view(body)).startswith(expected)


def test_undo_goes_to_the_last_released_image_that_is_not_the_spec() -> None:
    history = [_release(1, V1, "Released"), _release(2, V2, "Released")]
    assert undo_target(_body(history=history)) == V1


def test_undo_after_a_rollback_names_the_stable_image() -> None:
    history = [_release(1, V1, "Released"), _release(2, V2, "RolledBack")]
    assert undo_target(_body(history=history)) == V1


def test_undo_with_nothing_earlier_is_a_clear_error() -> None:
    with pytest.raises(PluginError, match="pay has no earlier release to go back to"):
        undo_target(_body(history=[_release(1, V2, "Released")]))


# --- I/O: against stand-ins for kubectl and the operator ----------------------------------


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """A JSON merge patch (RFC 7386), as the API server applies `--type=merge`."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = value


Pass = Callable[[dict[str, Any]], None]


class FakeKubectl:
    """Answers `kubectl get/patch microservices` from one stored body, or fails as told;
    before each `get` the operator (if any) makes its pass over the stored body."""

    def __init__(
        self, body: dict[str, Any] | None, failure: str | None = None, operator: Pass | None = None
    ) -> None:
        self.body, self.failure, self.operator = body, failure, operator
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, *args: str) -> str:
        self.calls.append(args)
        if self.failure is not None:
            raise self.failure_error()
        if self.body is None:
            raise plugin.NotFound('(NotFound): microservices.shopmesh.io "pay" not found')
        if args[0] == "patch":
            _merge(self.body, json.loads(args[-1]))
            return "patched"
        if self.operator is not None:
            self.operator(self.body)
        return json.dumps(self.body)

    def failure_error(self) -> PluginError:
        return PluginError(f"cannot reach the cluster: {self.failure}")

    @property
    def patches(self) -> list[tuple[str, ...]]:
        return [call for call in self.calls if call[0] == "patch"]


class FakeOperator:
    """The operator's pass over steering: finds the pending command the way the operator
    does (steering.pending_command), carries it out with `carry_out`, records its id;
    `late` passes go by before it gets to it."""

    def __init__(
        self, carry_out: Callable[[dict[str, Any], steering.Command], None], late: int = 0
    ) -> None:
        self.carry_out, self.late = carry_out, late
        self.done: list[steering.Command] = []

    def __call__(self, body: dict[str, Any]) -> None:
        rollout = body["status"]["rollout"]
        annotations = body["metadata"].get("annotations") or {}
        command = steering.pending_command(annotations, rollout.get("steered"))
        if command is None:
            return
        if self.late:
            self.late -= 1
            return
        self.carry_out(rollout, command)
        rollout["steered"] = command.id
        self.done.append(command)


def _next_step(rollout: dict[str, Any], command: steering.Command) -> None:
    canary = rollout["release"]
    canary.pop("paused", None)
    canary["step"] = len(STEPS) if command.full else canary["step"] + 1
    canary["weight"] = 100 if command.full else 50


def _abort(rollout: dict[str, Any], command: steering.Command) -> None:
    del rollout["release"]
    rollout["held"] = {**_held("Aborted"), "message": "aborted by kubectl shopmesh abort"}


def _run(monkeypatch: pytest.MonkeyPatch, fake: FakeKubectl, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(plugin, "kubectl", fake)
    monkeypatch.setattr(plugin.time, "sleep", lambda _: None)
    # Wide enough that no table cell wraps inside a word the tests look for.
    monkeypatch.setattr(plugin, "out", Console(soft_wrap=True, width=200))
    result = CliRunner().invoke(plugin.app, list(args))
    if isinstance(result.exception, PluginError):
        return 1, result.stdout, str(result.exception)
    return result.exit_code, result.stdout, result.stderr


def test_status_shows_the_held_release_and_history(monkeypatch: pytest.MonkeyPatch) -> None:
    history = [_release(1, V1, "Released"), _release(2, V2, "RolledBack")]
    body = _body(phase="Degraded", held=_held("RolledBack"), history=history)
    code, stdout, _ = _run(monkeypatch, FakeKubectl(body), "status", "pay", "-n", "shop")
    assert code == 0
    assert "shop/pay  Rolling  phase Degraded" in stdout
    assert f"running image  {V1}" in stdout
    assert "held: RolledBack" in stdout
    assert "RolledBack" in stdout.split("releases")[1]


def test_status_of_a_canary_shows_its_step_pause_and_analysis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    measurements = (
        _measurement(),
        _measurement(
            metric="latency-p99",
            value=None,
            threshold="<= 500ms",
            verdict="Inconclusive",
            requests=3.0,
            message="3 requests, fewer than minRequests 10",
        ),
    )
    canary = _canary(
        3, weight=50, paused="Inconclusive", message="too little traffic", measurements=measurements
    )
    body = _canary_body(phase="Paused", release=canary)
    code, stdout, _ = _run(monkeypatch, FakeKubectl(body), "status", "pay", "-n", "shop")
    assert code == 0, stdout
    assert "shop/pay  Canary  phase Paused" in stdout
    assert f"running image  {V1} (stable), {V2} (canary)" in stdout
    assert f"canary         {V2}  step 4/5 (analysis x2), weight 50%" in stdout
    assert "paused: Inconclusive — too little traffic" in stdout
    analysis = stdout.split("analysis: 1 passed in a row, 0 failed")[1].split("conditions")[0]
    rows = [line.split("│") for line in analysis.splitlines() if "2026-" in line]
    cells = [[cell.strip() for cell in row if cell.strip()] for row in rows]
    assert cells == [
        ["success-rate", "99.5", ">= 99", "Successful", "120", "2026-12-03T12:00:30Z"],
        [
            "latency-p99",
            "no data",
            "<= 500ms",
            "Inconclusive",
            "3",
            "2026-12-03T12:00:30Z",
            "3 requests, fewer than minRequests 10",
        ],
    ]
    assert "Ready" in stdout.split("conditions")[1]  # what status printed before stays


@pytest.mark.parametrize(
    ("body", "shown", "not_shown"),
    [
        pytest.param(
            _blue_green_body(
                phase="Paused",
                release=_blue_green(
                    2,
                    paused="PauseStep",
                    message="waiting for kubectl shopmesh promote",
                    measurements=(_measurement(),),
                ),
            ),
            [
                "shop/pay  BlueGreen  phase Paused  ready 2/2",
                f"running image  {V1} (active), {V2} (preview)",
                f"preview        {V2}  step 3/5 (pause until promoted), active {V1}, paused "
                "(PauseStep: waiting for kubectl shopmesh promote)",
                f"traffic        Service pay -> {V1} (active, live traffic); "
                f"Service pay-preview -> {V2}",
                "paused: PauseStep — waiting for kubectl shopmesh promote",
                "analysis: 1 passed in a row, 0 failed",
            ],
            ["weight"],
            id="before the switch",
        ),
        pytest.param(
            _blue_green_body(release=_blue_green(SWITCH + 1)),
            [
                "shop/pay  BlueGreen  phase Progressing  ready 2/2",
                f"running image  {V2} (active), {V1} (previous)",
                f"preview        {V2}  step 5/5 (scale-down delay 30s), active {V2}",
                f"traffic        Service pay -> {V2} (active, live traffic); "
                f"Service pay-preview -> {V2}",
            ],
            ["paused", "analysis:", "weight"],
            id="after the switch",
        ),
    ],
)
def test_status_of_a_blue_green_release_shows_which_side_is_active(
    monkeypatch: pytest.MonkeyPatch, body: dict[str, Any], shown: list[str], not_shown: list[str]
) -> None:
    code, stdout, _ = _run(monkeypatch, FakeKubectl(body), "status", "pay", "-n", "shop")
    assert code == 0, stdout
    lines = [line.rstrip() for line in stdout.splitlines()]
    for line in shown:
        assert any(seen.startswith(line) for seen in lines), line
    for word in not_shown:
        assert word not in stdout, word
    assert "Ready" in stdout.split("conditions")[1]


def test_unknown_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, message = _run(monkeypatch, FakeKubectl(None), "status", "nope", "-n", "shop")
    assert (code, message) == (1, "no Microservice nope in namespace shop")


def test_an_unreachable_cluster_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKubectl(_body(), failure="The connection to the server was refused")
    code, _, message = _run(monkeypatch, fake, "status", "pay")
    assert code == 1
    assert message.startswith("cannot reach the cluster")


@pytest.mark.parametrize("verb", steering.VERBS)
def test_steering_a_rolling_release_says_why_not(
    monkeypatch: pytest.MonkeyPatch, verb: str
) -> None:
    fake = FakeKubectl(_body())
    code, _, stderr = _run(monkeypatch, fake, verb, "pay", "-n", "shop")
    assert code == 2
    assert f"{verb} steers BlueGreen and Canary releases; shop/pay uses Rolling" in stderr
    assert fake.patches == []


@pytest.mark.parametrize("verb", steering.VERBS)
def test_steering_an_unknown_name_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, verb: str
) -> None:
    code, _, message = _run(monkeypatch, FakeKubectl(None), verb, "nope", "-n", "shop")
    assert (code, message) == (1, "no Microservice nope in namespace shop")


def test_steering_an_unreachable_cluster_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeKubectl(_canary_body(release=_canary(1)), failure="dial tcp 127.0.0.1:6443")
    code, _, message = _run(monkeypatch, fake, "promote", "pay")
    assert code == 1
    assert message.startswith("cannot reach the cluster")


def test_a_verb_that_does_not_fit_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKubectl(_canary_body(release=_canary(1)))
    code, _, stderr = _run(monkeypatch, fake, "retry", "pay", "-n", "shop")
    assert code == 2
    assert "nothing to retry: the release of shop/pay was not aborted" in stderr
    assert fake.patches == []


@pytest.mark.parametrize(
    ("args", "full"),
    [
        pytest.param(("promote",), False, id="one step"),
        pytest.param(("promote", "--full"), True, id="full"),
    ],
)
def test_promote_records_the_command_and_says_where_the_operator_took_it(
    monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...], full: bool
) -> None:
    operator = FakeOperator(_next_step, late=2)
    fake = FakeKubectl(_canary_body(release=_canary(1, paused="PauseStep")), operator=operator)
    code, stdout, stderr = _run(monkeypatch, fake, *args, "pay", "-n", "shop")
    assert code == 0, stderr
    [patch] = fake.patches
    assert patch[:5] == ("patch", plugin.RESOURCE, "pay", "-n", "shop")
    [done] = operator.done
    assert (done.verb, done.full) == ("promote", full)
    assert json.loads(patch[-1]) == {
        "metadata": {"annotations": {"release.shopmesh.io/steer": done.encode()}}
    }
    expected = (
        "promoted pay: promoting (all 5 steps done), weight 100%"
        if full
        else "promoted pay to step 3/5 (setWeight 50), weight 50%"
    )
    assert stdout.strip().splitlines()[-1] == expected


def _next_blue_green_step(rollout: dict[str, Any], command: steering.Command) -> None:
    release = rollout["release"]
    release.pop("paused", None)
    release["step"] = 5 if command.full else release["step"] + 1
    release["weight"] = 100 if release["step"] >= SWITCH else 0


@pytest.mark.parametrize(
    ("args", "body", "carry_out", "expected"),
    [
        pytest.param(
            ("promote",),
            BG_PAUSED,
            _next_blue_green_step,
            f"promoted pay to step 4/5 (switch), active {V2}",
            id="promote: the switch",
        ),
        pytest.param(
            ("promote", "--full"),
            BG_PAUSED,
            _next_blue_green_step,
            f"promoted pay: promoting (all 5 steps done), active {V2}",
            id="promote --full",
        ),
        pytest.param(
            ("abort",),
            BG_SWITCHED,
            _abort,
            f"aborted pay: back to {V1}",
            id="abort after the switch",
        ),
    ],
)
def test_steering_a_blue_green_release(
    monkeypatch: pytest.MonkeyPatch,
    args: tuple[str, ...],
    body: dict[str, Any],
    carry_out: Callable[[dict[str, Any], steering.Command], None],
    expected: str,
) -> None:
    operator = FakeOperator(carry_out)
    fake = FakeKubectl(json.loads(json.dumps(body)), operator=operator)  # a copy: it is changed
    code, stdout, stderr = _run(monkeypatch, fake, *args, "pay", "-n", "shop")
    assert code == 0, stderr
    assert len(fake.patches) == 1
    assert [command.verb for command in operator.done] == [args[0]]
    assert stdout.strip().splitlines()[-1] == expected


def test_abort_says_what_runs_again(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKubectl(_canary_body(release=_canary(2)), operator=FakeOperator(_abort))
    code, stdout, _ = _run(monkeypatch, fake, "abort", "pay", "-n", "shop")
    assert code == 0
    assert stdout.strip().splitlines()[-1] == f"aborted pay: back to {V1}"


def test_an_operator_that_does_not_answer_leaves_the_command_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeKubectl(_canary_body(release=_canary(1)))  # no operator runs
    code, _, stderr = _run(monkeypatch, fake, "pause", "pay", "-n", "shop", "--timeout", "0")
    assert code == 1
    assert "the operator did not carry out pause within 0s (is it running?)" in stderr
    assert "stays recorded in the release.shopmesh.io/steer annotation of shop/pay" in stderr
    recorded = steering.read_command(fake.body["metadata"]["annotations"])  # type: ignore[index]
    assert recorded is not None
    assert recorded.verb == "pause"


def test_a_new_command_says_it_replaces_one_not_carried_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = _canary_body(release=_canary(1))
    earlier = steering.new_command("pause")
    body["metadata"]["annotations"] = {steering.ANNOTATION: earlier.encode()}
    operator = FakeOperator(_next_step, late=1)  # it has not seen the pause yet
    code, _, stderr = _run(monkeypatch, FakeKubectl(body, operator=operator), "promote", "pay")
    assert code == 0
    assert "note: pause was not carried out yet; promote replaces it" in stderr
    assert [command.verb for command in operator.done] == ["promote"]


@pytest.mark.parametrize(
    ("bodies", "code"),
    [
        pytest.param([_body(observed=1), _body()], 0, id="released"),
        pytest.param([_body(phase="Progressing"), _body(held=_held("RolledBack"))], 1, id="rb"),
        pytest.param(
            [_canary_body(release=_canary(0)), RELEASED],
            0,
            id="canary released",
        ),
        pytest.param(
            [_canary_body(release=_canary(3)), ABORTED],
            1,
            id="canary aborted",
        ),
        pytest.param(
            [
                _blue_green_body(release=_blue_green(0)),
                _blue_green_body(release=_blue_green(SWITCH + 1)),
                BG_RELEASED,
            ],
            0,
            id="blue-green promoted",
        ),
        pytest.param(
            [_blue_green_body(release=_blue_green(SWITCH + 1)), BG_ABORTED],
            1,
            id="blue-green aborted after the switch",
        ),
    ],
)
def test_watch_exits_with_the_outcome(
    monkeypatch: pytest.MonkeyPatch, bodies: list[dict[str, Any]], code: int
) -> None:
    answers = iter(bodies)
    fake = FakeKubectl(None)
    monkeypatch.setattr(plugin, "read", lambda name, namespace: next(answers))
    assert _run(monkeypatch, fake, "watch", "pay", "-n", "shop")[0] == code


@pytest.mark.parametrize(
    ("bodies", "expected"),
    [
        pytest.param(
            [
                _canary_body(release=_canary(0)),
                _canary_body(release=_canary(0)),
                _canary_body(release=_canary(1, paused="PauseStep")),
                RELEASED,
            ],
            [
                "shop/pay: step 1/5 (setWeight 20), weight 20%",
                "shop/pay: step 2/5 (pause until promoted), weight 20%, paused (PauseStep)",
            ],
            id="canary",
        ),
        pytest.param(
            [
                _blue_green_body(release=_blue_green(0)),
                _blue_green_body(release=_blue_green(2, paused="PauseStep")),
                _blue_green_body(release=_blue_green(2, paused="PauseStep")),
                _blue_green_body(release=_blue_green(SWITCH + 1)),
                BG_RELEASED,
            ],
            [
                f"shop/pay: step 1/5 (preview), active {V1}",
                f"shop/pay: step 3/5 (pause until promoted), active {V1}, paused (PauseStep)",
                f"shop/pay: step 5/5 (scale-down delay 30s), active {V2}",
            ],
            id="blue-green",
        ),
    ],
)
def test_watch_shows_each_step_once(
    monkeypatch: pytest.MonkeyPatch, bodies: list[dict[str, Any]], expected: list[str]
) -> None:
    answers = iter(bodies)
    monkeypatch.setattr(plugin, "read", lambda name, namespace: next(answers))
    code, stdout, _ = _run(monkeypatch, FakeKubectl(None), "watch", "pay", "-n", "shop")
    assert code == 0
    assert stdout.splitlines() == [*expected, f"released {V2} (2/2 ready)"]


def test_watch_says_aborted_for_an_aborted_canary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugin, "read", lambda name, namespace: ABORTED)
    code, _, stderr = _run(monkeypatch, FakeKubectl(None), "watch", "pay", "-n", "shop")
    assert code == 1
    assert stderr.startswith(f"aborted: {V2} did not become ready")


def test_watch_gives_up_at_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugin, "read", lambda name, namespace: _body(phase="Progressing"))
    code, _, stderr = _run(monkeypatch, FakeKubectl(None), "watch", "pay", "--timeout", "0")
    assert code == 2
    assert "still Progressing after 0s" in stderr


def test_undo_patches_the_spec_with_the_previous_image(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKubectl(_body(history=[_release(1, V1, "Released"), _release(2, V2, "Released")]))
    code, stdout, _ = _run(monkeypatch, fake, "undo", "pay", "-n", "shop")
    assert code == 0
    patch = fake.calls[-1]
    assert patch[:2] == ("patch", "microservices.shopmesh.io")
    assert json.loads(patch[-1]) == {"spec": {"image": V1}}
    assert f"releasing {V1} (was {V2})" in stdout
