"""`kubectl shopmesh`: what a status means (pure), and each verb against a stand-in for
kubectl that answers as the real one does (the e2e suite runs the real one)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from shopmesh_operator import kubectl_shopmesh as plugin
from shopmesh_operator.kubectl_shopmesh import PluginError, Verdict, undo_target, verdict

V1, V2 = "shop/pay:1", "shop/pay:2"


def _body(
    *,
    generation: int = 2,
    observed: int = 2,
    phase: str = "Ready",
    image: str = V2,
    held: dict[str, Any] | None = None,
    history: list[dict[str, Any]] | None = None,
    strategy: str = "Rolling",
) -> dict[str, Any]:
    rollout: dict[str, Any] = {"history": history or []}
    if held:
        rollout["held"] = held
    return {
        "metadata": {"name": "pay", "namespace": "shop", "generation": generation},
        "spec": {"image": image, "replicas": 2, "rollout": {"strategy": strategy}},
        "status": {
            "observedGeneration": observed,
            "phase": phase,
            "replicas": 2,
            "readyReplicas": 2,
            "conditions": [{"type": "Ready", "status": "True", "reason": "Available"}],
            "rollout": rollout,
        },
    }


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
    ],
)
def test_verdict(body: dict[str, Any], expected: Verdict) -> None:
    assert verdict(body) is expected


def test_undo_goes_to_the_last_released_image_that_is_not_the_spec() -> None:
    history = [_release(1, V1, "Released"), _release(2, V2, "Released")]
    assert undo_target(_body(history=history)) == V1


def test_undo_after_a_rollback_names_the_stable_image() -> None:
    history = [_release(1, V1, "Released"), _release(2, V2, "RolledBack")]
    assert undo_target(_body(history=history)) == V1


def test_undo_with_nothing_earlier_is_a_clear_error() -> None:
    with pytest.raises(PluginError, match="pay has no earlier release to go back to"):
        undo_target(_body(history=[_release(1, V2, "Released")]))


class FakeKubectl:
    """Answers `kubectl get/patch microservices` from one stored body, or fails as told."""

    def __init__(self, body: dict[str, Any] | None, failure: str | None = None) -> None:
        self.body, self.failure = body, failure
        self.calls: list[tuple[str, ...]] = []

    def __call__(self, *args: str) -> str:
        self.calls.append(args)
        if self.failure is not None:
            raise self.failure_error()
        if self.body is None:
            raise plugin.NotFound('(NotFound): microservices.shopmesh.io "pay" not found')
        return json.dumps(self.body) if args[0] == "get" else "patched"

    def failure_error(self) -> PluginError:
        return PluginError(f"cannot reach the cluster: {self.failure}")


def _run(monkeypatch: pytest.MonkeyPatch, fake: FakeKubectl, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(plugin, "kubectl", fake)
    monkeypatch.setattr(plugin.time, "sleep", lambda _: None)
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


def test_unknown_name_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, message = _run(monkeypatch, FakeKubectl(None), "status", "nope", "-n", "shop")
    assert (code, message) == (1, "no Microservice nope in namespace shop")


def test_an_unreachable_cluster_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKubectl(_body(), failure="The connection to the server was refused")
    code, _, message = _run(monkeypatch, fake, "status", "pay")
    assert code == 1
    assert message.startswith("cannot reach the cluster")


@pytest.mark.parametrize("verb", ["promote", "abort", "retry", "pause", "resume"])
def test_canary_verbs_on_a_rolling_release_say_why_not(
    monkeypatch: pytest.MonkeyPatch, verb: str
) -> None:
    code, _, stderr = _run(monkeypatch, FakeKubectl(_body()), verb, "pay", "-n", "shop")
    assert code == 2
    assert f"{verb} steers BlueGreen and Canary releases; shop/pay uses Rolling" in stderr


def test_undo_patches_the_spec_with_the_previous_image(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeKubectl(_body(history=[_release(1, V1, "Released"), _release(2, V2, "Released")]))
    code, stdout, _ = _run(monkeypatch, fake, "undo", "pay", "-n", "shop")
    assert code == 0
    patch = fake.calls[-1]
    assert patch[:2] == ("patch", "microservices.shopmesh.io")
    assert json.loads(patch[-1]) == {"spec": {"image": V1}}
    assert f"releasing {V1} (was {V2})" in stdout


@pytest.mark.parametrize(
    ("bodies", "code"),
    [
        pytest.param([_body(observed=1), _body()], 0, id="released"),
        pytest.param([_body(phase="Progressing"), _body(held=_held("RolledBack"))], 1, id="rb"),
    ],
)
def test_watch_exits_with_the_outcome(
    monkeypatch: pytest.MonkeyPatch, bodies: list[dict[str, Any]], code: int
) -> None:
    answers = iter(bodies)
    fake = FakeKubectl(None)
    monkeypatch.setattr(plugin, "read", lambda name, namespace: next(answers))
    assert _run(monkeypatch, fake, "watch", "pay", "-n", "shop")[0] == code


def test_watch_gives_up_at_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugin, "read", lambda name, namespace: _body(phase="Progressing"))
    code, _, stderr = _run(monkeypatch, FakeKubectl(None), "watch", "pay", "--timeout", "0")
    assert code == 2
    assert "still Progressing after 0s" in stderr
