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

from shopmesh_operator import canary, steering
from shopmesh_operator import kubectl_shopmesh as plugin
from shopmesh_operator.kubectl_shopmesh import (
    PluginError,
    Verdict,
    describe_progress,
    describe_step,
    measurement_row,
    refusal,
    release_view,
    steered_message,
    undo_target,
    verdict,
)
from shopmesh_operator.models import ReleaseState, CanaryStep, Measurement
from shopmesh_operator.steering import Verb

V1, V2 = "shop/pay:1", "shop/pay:2"
#: Five steps, one of each kind and both kinds of pause.
STEPS = [
    {"setWeight": 20},
    {"pause": {}},
    {"setWeight": 50},
    {"analysis": {"measurements": 2}},
    {"pause": {"duration": "30s"}},
]
CANARY_SPEC = {"steps": STEPS, "analysis": {"metrics": [{"name": "success-rate", "min": 99}]}}


def _body(
    *,
    generation: int = 2,
    observed: int = 2,
    phase: str = "Ready",
    image: str = V2,
    held: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    strategy: str = "Rolling",
    canary: dict[str, Any] | None = None,
    stable: str | None = None,
) -> dict[str, Any]:
    rollout: dict[str, Any] = {"history": history or []}
    if stable:
        rollout["stableImage"] = stable
    if held:
        rollout["held"] = held
    if canary:
        rollout["release"] = canary
    spec_rollout: dict[str, Any] = {"strategy": strategy}
    if strategy == "Canary":
        spec_rollout["canary"] = CANARY_SPEC
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
    ("step", "expected"),
    [
        pytest.param({"setWeight": 20}, "setWeight 20", id="weight"),
        pytest.param({"setWeight": 0}, "setWeight 0", id="weight zero is a weight"),
        pytest.param({"pause": {"duration": "30s"}}, "pause 30s", id="timed pause"),
        pytest.param({"pause": {}}, "pause until promoted", id="pause for a person"),
        pytest.param({"analysis": {}}, "analysis x3", id="analysis, default count"),
        pytest.param({"analysis": {"measurements": 5}}, "analysis x5", id="analysis x5"),
    ],
)
def test_describe_step(step: dict[str, Any], expected: str) -> None:
    parsed = CanaryStep.model_validate(step)
    assert describe_step(parsed) == expected
    assert canary.describe_step(parsed) == expected  # the operator's events say the same


@pytest.mark.parametrize(
    ("step", "expected"),
    [
        pytest.param(0, "step 1/5 (setWeight 20)", id="first"),
        pytest.param(1, "step 2/5 (pause until promoted)", id="second"),
        pytest.param(4, "step 5/5 (pause 30s)", id="last"),
        pytest.param(5, "promoting (all 5 steps done)", id="every step done"),
    ],
)
def test_describe_progress(step: int, expected: str) -> None:
    steps = tuple(CanaryStep.model_validate(s) for s in STEPS)
    assert describe_progress(ReleaseState.model_validate(_canary(step)), steps) == expected


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
        pytest.param(_canary_body(canary=_canary(2)), Verdict.RUNNING, id="canary: at a step"),
        pytest.param(
            _canary_body(phase="Ready", history=[_release(1, V1, "Released")]),
            Verdict.RUNNING,
            id="canary: Ready is not enough, the history has no entry for this generation",
        ),
        pytest.param(
            _canary_body(canary=_canary(5), history=[_release(2, V2, "Released")]),
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
            _canary_body(generation=3, held=_held("Aborted"), canary=_canary(0)),
            Verdict.RUNNING,
            id="canary: an older generation's abort",
        ),
    ],
)
def test_verdict(body: dict[str, Any], expected: Verdict) -> None:
    assert verdict(body) is expected


def test_a_canary_runs_two_images() -> None:
    view = release_view(_canary_body(canary=_canary(1)))
    assert view.running_image == f"{V1} (stable), {V2} (canary)"


def test_a_status_this_plugin_cannot_read_is_a_clear_error() -> None:
    body = _canary_body(canary={**_canary(1), "paused": "Sleepy"})
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
AT_STEP = _canary_body(canary=_canary(2, weight=50))
PAUSED = _canary_body(canary=_canary(1, paused="PauseStep", message="waiting for promote"))
INCONCLUSIVE = _canary_body(canary=_canary(3, paused="Inconclusive", message="3 requests"))
RELEASED = _canary_body(phase="Ready", history=[_release(2, V2, "Released")])


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
            _canary_body(canary=_canary(2, paused="Paused")),
            "shop/pay is already paused (Paused); `kubectl shopmesh resume` continues it",
            id="paused: not twice",
        ),
        pytest.param(("retry",), ABORTED, None, id="aborted: retry"),
        pytest.param(
            ("promote", "abort", "pause", "resume"), ABORTED, WAS_ABORTED, id="aborted: only retry"
        ),
        pytest.param(
            ("retry",),
            _canary_body(generation=3, held=_held("Aborted"), canary=_canary(0)),
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
            _canary_body(canary=_canary(2, weight=50)),
            "promoted pay to step 3/5 (setWeight 50), weight 50%",
            id="promote",
        ),
        pytest.param(
            "promote",
            _canary_body(canary=_canary(5, weight=100)),
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
            _canary_body(canary=_canary(0, weight=0)),
            "restarted pay at step 1/5 (setWeight 20), weight 0%",
            id="retry",
        ),
        pytest.param(
            "pause",
            _canary_body(canary=_canary(2, weight=50, paused="Paused")),
            "paused pay at step 3/5 (setWeight 50), weight 50%, paused (Paused)",
            id="pause",
        ),
        pytest.param(
            "resume",
            _canary_body(canary=_canary(3, weight=50)),
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
            _canary_body(canary=_canary(2, weight=50)),
            "abort carried out; pay is still at step 3/5 (setWeight 50), weight 50%",
            id="acknowledged, yet still at a step",
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
    body = _canary_body(phase="Paused", canary=canary)
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
    fake = FakeKubectl(_canary_body(canary=_canary(1)), failure="dial tcp 127.0.0.1:6443")
    code, _, message = _run(monkeypatch, fake, "promote", "pay")
    assert code == 1
    assert message.startswith("cannot reach the cluster")


def test_a_verb_that_does_not_fit_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKubectl(_canary_body(canary=_canary(1)))
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
    fake = FakeKubectl(_canary_body(canary=_canary(1, paused="PauseStep")), operator=operator)
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


def test_abort_says_what_runs_again(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKubectl(_canary_body(canary=_canary(2)), operator=FakeOperator(_abort))
    code, stdout, _ = _run(monkeypatch, fake, "abort", "pay", "-n", "shop")
    assert code == 0
    assert stdout.strip().splitlines()[-1] == f"aborted pay: back to {V1}"


def test_an_operator_that_does_not_answer_leaves_the_command_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake = FakeKubectl(_canary_body(canary=_canary(1)))  # no operator runs
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
    body = _canary_body(canary=_canary(1))
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
            [_canary_body(canary=_canary(0)), RELEASED],
            0,
            id="canary released",
        ),
        pytest.param(
            [_canary_body(canary=_canary(3)), ABORTED],
            1,
            id="canary aborted",
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


def test_watch_shows_each_canary_step_once(monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter(
        [
            _canary_body(canary=_canary(0)),
            _canary_body(canary=_canary(0)),
            _canary_body(canary=_canary(1, paused="PauseStep")),
            RELEASED,
        ]
    )
    monkeypatch.setattr(plugin, "read", lambda name, namespace: next(answers))
    code, stdout, _ = _run(monkeypatch, FakeKubectl(None), "watch", "pay", "-n", "shop")
    assert code == 0
    assert stdout.splitlines() == [
        "shop/pay: step 1/5 (setWeight 20), weight 20%",
        "shop/pay: step 2/5 (pause until promoted), weight 20%, paused (PauseStep)",
        f"released {V2} (2/2 ready)",
    ]


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
