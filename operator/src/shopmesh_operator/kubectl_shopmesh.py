"""`kubectl shopmesh`: the release of a Microservice from the command line (console script
`kubectl-shopmesh`, which kubectl finds on PATH as a plugin; `make env` puts it there).

    kubectl shopmesh status payments -n shop     phase, images, conditions, held release,
                                                 history; a release's step, traffic, pause
                                                 and last analysis measurements
    kubectl shopmesh watch payments -n shop      follows a release: exit 0 released, 1 rolled
                                                 back or aborted, 2 after --timeout
    kubectl shopmesh undo payments -n shop       back to the stable image, through the spec
    kubectl shopmesh promote payments -n shop    steer a Canary or BlueGreen release:
                     abort|retry|pause|resume    promote [--full], abort, retry, pause, resume

Canary and BlueGreen releases walk steps (steps.py) and are steered alike. A canary shows
its weight; a blue-green release its steps (preview, analysis xN, auto-promotion after Ns
or pause until promoted, switch, scale-down delay Ns), which side is active (serves live
traffic through the `<name>` Service: the stable image until the switch, the new one
after) and its `<name>-preview` Service. promote goes to the next step (--full: all of
them); abort goes back to the stable version at once, as long as the stable Deployment
has not taken the new template; `watch` ends at promotion (0) or abort (1).

The steering verbs write one command into the `release.shopmesh.io/steer` annotation (steering.py)
and wait (`--timeout`, 20s) until the operator records its id in `status.rollout.steered`,
then say what the status shows: exit 0; 1 when the operator did not answer in time (the
command stays recorded and is carried out when the operator runs); 2, without writing,
when the verb does not fit the release (`refusal`): a Rolling release, no release in
progress, retry of a release that was not aborted and anything else of one that was,
resume of one that is not paused or waits at a pause step (promote continues it), pause
of one that is paused.

It talks to the cluster through `kubectl` itself, so the user's context, credentials and
auth plugins apply as they do to every other kubectl command. What a status means
(`release_view`, `verdict`, `undo_target`, `refusal`, `steered_message`; how it is
printed: release_view.py) is pure and unit-tested; the rest is I/O.
"""

from __future__ import annotations

import enum
import json
import subprocess
import time
from typing import Annotated, Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.markup import escape

from shopmesh_operator import steering
from shopmesh_operator.models import Release, Rollout, RolloutStatus
from shopmesh_operator.release_view import (
    ReleaseView,
    describe_progress,
    print_status,
    release_state,
)
from shopmesh_operator.steering import Verb

app = typer.Typer(
    name="kubectl-shopmesh",
    help="Follow and steer the releases of ShopMesh Microservices.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console(soft_wrap=True)  # a message is one line, however narrow the terminal
err = Console(stderr=True, soft_wrap=True)

RESOURCE = "microservices.shopmesh.io"
Name = Annotated[str, typer.Argument(help="the Microservice")]
Namespace = Annotated[str, typer.Option("--namespace", "-n", help="its namespace")]
Wait = Annotated[float, typer.Option("--timeout", help="wait this long (s) for the operator")]


class Verdict(enum.StrEnum):
    """Where a release stands, for `watch`."""

    RUNNING = "running"
    RELEASED = "released"
    ROLLED_BACK = "rolled back"


class PluginError(Exception):
    """A clear, one-line failure: printed without a traceback, exit code 1."""


_Parsed = TypeVar("_Parsed", bound=BaseModel)


def _parse(model: type[_Parsed], data: Any, where: str, who: str) -> _Parsed:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = ".".join(str(part) for part in first["loc"])
        raise PluginError(
            f"{who}: {where} is not what this plugin understands ({path}: {first['msg']}); "
            "is the plugin older than the operator?"
        ) from None


def release_view(body: dict[str, Any]) -> ReleaseView:
    spec, status, meta = body["spec"], body.get("status") or {}, body["metadata"]
    who = f"{meta['namespace']}/{meta['name']}"
    rollout = _parse(RolloutStatus, status.get("rollout") or {}, "status.rollout", who)
    spec_rollout = _parse(Rollout, spec.get("rollout") or {}, "spec.rollout", who)
    want = status.get("replicas", spec.get("replicas", 1))
    return ReleaseView(
        name=meta["name"],
        namespace=meta["namespace"],
        generation=meta.get("generation", 0),
        phase=status.get("phase", "Pending"),
        spec_image=spec["image"],
        ready=f"{status.get('readyReplicas', 0)}/{want}",
        conditions=tuple(
            (c["type"], c["status"], c.get("reason", ""), c.get("message", ""))
            for c in status.get("conditions", [])
        ),
        rollout=rollout,
        spec_rollout=spec_rollout,
    )


def _released_now(view: ReleaseView) -> Release | None:
    newest = view.history[-1] if view.history else None
    if newest and newest.generation == view.generation and newest.outcome == "Released":
        return newest
    return None


def verdict(body: dict[str, Any]) -> Verdict:
    """Released: this generation is Ready with the spec's image (Canary, BlueGreen: its
    newest history entry says Released and no release is left in progress); rolled back:
    it is held back (the operator rolled it back, a user undid it, a release was aborted)
    or the API refused it; running otherwise."""
    view = release_view(body)
    status = body.get("status") or {}
    observed = status.get("observedGeneration") == view.generation
    if view.held and view.held.generation == view.generation:
        return Verdict.ROLLED_BACK
    if view.phase == "Failed" and observed:
        return Verdict.ROLLED_BACK
    if view.strategy != "Rolling":
        released = view.release is None and _released_now(view) is not None
        return Verdict.RELEASED if released else Verdict.RUNNING
    if observed and view.phase == "Ready":
        return Verdict.RELEASED if not view.held else Verdict.RUNNING
    return Verdict.RUNNING


def undo_target(body: dict[str, Any]) -> str:
    """The image `undo` puts in the spec: the last release that became available."""
    rollout = (body.get("status") or {}).get("rollout") or {}
    current = body["spec"]["image"]
    for release in reversed(rollout.get("history", [])):
        if release.get("outcome") == "Released" and release.get("image") != current:
            return str(release["image"])
    stable = rollout.get("stableImage")
    if stable and stable != current:
        return str(stable)
    name = body["metadata"]["name"]
    raise PluginError(f"{name} has no earlier release to go back to (it runs {current})")


def refusal(verb: Verb, view: ReleaseView) -> str | None:
    """Why `verb` does not fit this release (said before anything is written), or None."""
    who = f"{view.namespace}/{view.name}"
    if view.strategy == "Rolling":
        return (
            f"{verb} steers BlueGreen and Canary releases; {who} uses {view.strategy} "
            "(use `kubectl shopmesh undo` or `kubectl rollout undo`)"
        )
    release, held = view.release, view.held
    if held is not None and held.reason == "Aborted" and held.generation == view.generation:
        if verb == "retry":
            return None
        return (  # the operator would only acknowledge it
            f"nothing to {verb}: the release of {who} was aborted ({held.running_image} "
            "runs); `kubectl shopmesh retry` starts it again"
        )
    if verb == "retry":
        return f"nothing to retry: the release of {who} was not aborted"
    if release is None:
        return f"nothing to {verb}: {who} has no release in progress (phase {view.phase})"
    paused, message = release.paused, release.pause_message
    if verb == "resume" and paused is None:
        state = release_state(view, release)
        return f"nothing to resume: the release of {who} is not paused; it is at {state}"
    if verb == "resume" and paused == "PauseStep":  # it would pause there again
        where = describe_progress(view.spec_rollout, release)
        return f"nothing to resume: {who} waits at {where}; `kubectl shopmesh promote` continues"
    if verb == "pause" and paused is not None:
        why = f"{paused}: {message}" if message else paused
        how = "promote" if paused == "PauseStep" else "resume"
        return f"{who} is already paused ({why}); `kubectl shopmesh {how}` continues it"
    return None


_DONE = {
    "promote": "promoted",
    "abort": "aborted",
    "retry": "restarted",
    "pause": "paused",
    "resume": "resumed",
}


def steered_message(verb: Verb, view: ReleaseView) -> str:
    """What the operator did, read from the status in which it acknowledged `verb`."""
    release, held = view.release, view.held
    if release is not None:
        state = release_state(view, release)
        if verb == "abort":  # acknowledged, yet the release is still there
            return f"abort carried out; {view.name} is still at {state}"
        if release.step >= len(view.steps):
            return f"{_DONE[verb]} {view.name}: {state}"
        return f"{_DONE[verb]} {view.name} {'to' if verb == 'promote' else 'at'} {state}"
    if held is not None and held.generation == view.generation:
        if verb == "abort":
            return f"aborted {view.name}: back to {held.running_image}"
        return (
            f"{verb} carried out; {view.name} stays held ({held.reason}), back to "
            f"{held.running_image}: {held.message}"
        )
    released = _released_now(view)
    if released is not None:
        return f"{_DONE[verb]} {view.name}: released {released.image}"
    return f"{verb} carried out; {view.name} is {view.phase}"


# --- I/O: kubectl ---------------------------------------------------------------------


class NotFound(PluginError):
    """kubectl answered NotFound."""


def kubectl(*args: str) -> str:
    try:
        done = subprocess.run(["kubectl", *args], capture_output=True, text=True, timeout=30)
    except FileNotFoundError as exc:
        raise PluginError("kubectl is not on PATH") from exc
    except subprocess.TimeoutExpired as exc:
        raise PluginError("the cluster did not answer within 30s") from exc
    if done.returncode == 0:
        return done.stdout
    message = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "no output"
    if "(NotFound)" in message:
        raise NotFound(message)
    if any(sign in message for sign in UNREACHABLE):
        raise PluginError(f"cannot reach the cluster: {message}")
    raise PluginError(f"kubectl {args[0]} failed: {message}")


#: How kubectl says it could not talk to the API server.
UNREACHABLE = ("Unable to connect", "connection to the server", "no such host", "dial tcp")


def read(name: str, namespace: str) -> dict[str, Any]:
    try:
        text = kubectl("get", RESOURCE, name, "-n", namespace, "-o", "json")
    except NotFound:
        raise PluginError(f"no Microservice {name} in namespace {namespace}") from None
    body: dict[str, Any] = json.loads(text)
    return body


def write_command(name: str, namespace: str, command: steering.Command) -> None:
    patch = json.dumps({"metadata": {"annotations": {steering.ANNOTATION: command.encode()}}})
    try:
        kubectl("patch", RESOURCE, name, "-n", namespace, "--type=merge", "-p", patch)
    except NotFound:
        raise PluginError(f"no Microservice {name} in namespace {namespace}") from None


def wait_for_ack(name: str, namespace: str, command_id: str, timeout: float) -> ReleaseView | None:
    """The release as the operator left it when it recorded `command_id`; None at timeout."""
    deadline = time.monotonic() + timeout
    while True:
        view = release_view(read(name, namespace))
        if view.rollout.steered == command_id:
            return view
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.5)


# --- commands ---------------------------------------------------------------------------


@app.command()
def status(name: Name, namespace: Namespace = "default") -> None:
    """Phase, images, conditions, the held release, the release history; for a Canary or
    BlueGreen release in progress its step, traffic, pause and last analysis measurements."""
    print_status(out, release_view(read(name, namespace)))


@app.command()
def watch(
    name: Name,
    namespace: Namespace = "default",
    timeout: Annotated[float, typer.Option(help="give up after this many seconds")] = 900,
) -> None:
    """Follow the current release: exit 0 when released, 1 when rolled back or aborted,
    2 on timeout."""
    deadline = time.monotonic() + timeout
    shown = ""
    with out.status(f"{namespace}/{name}: waiting") as spinner:
        while True:
            body = read(name, namespace)
            view = release_view(body)
            found = verdict(body)
            where = release_state(view, view.release) if view.release else ""
            if where and where != shown:  # each step once, also where no spinner is drawn
                out.print(f"{namespace}/{name}: {where}", markup=False)
                shown = where
            progress = f"; {where}" if where else ""
            spinner.update(f"{namespace}/{name}: {view.phase}, ready {view.ready}{progress}")
            if found is Verdict.RELEASED:
                out.print(f"[green]released[/] {view.spec_image} ({view.ready} ready)")
                return
            if found is Verdict.ROLLED_BACK:
                reason = view.held.message if view.held else view.phase
                label = "aborted" if view.held and view.held.reason == "Aborted" else "rolled back"
                err.print(f"[red]{label}[/]: {escape(reason)}")
                raise typer.Exit(1)
            if time.monotonic() > deadline:
                err.print(f"still {view.phase} after {timeout:.0f}s")
                raise typer.Exit(2)
            time.sleep(1)


@app.command()
def undo(name: Name, namespace: Namespace = "default") -> None:
    """Release the previous good image again, through the Microservice's spec."""
    body = read(name, namespace)
    target = undo_target(body)
    patch = json.dumps({"spec": {"image": target}})
    kubectl(
        "patch", "microservices.shopmesh.io", name, "-n", namespace, "--type=merge", "-p", patch
    )
    out.print(f"{namespace}/{name}: releasing {target} (was {body['spec']['image']})")


def steer(verb: Verb, name: str, namespace: str, *, timeout: float, full: bool = False) -> None:
    """Check that `verb` fits the release, record it for the operator, wait for its answer."""
    body = read(name, namespace)
    view = release_view(body)
    refused = refusal(verb, view)
    if refused is not None:
        err.print(refused, markup=False)
        raise typer.Exit(2)
    annotations = body["metadata"].get("annotations") or {}
    earlier = steering.pending_command(annotations, view.rollout.steered)
    if earlier is not None:
        err.print(f"note: {earlier.verb} was not carried out yet; {verb} replaces it")
    command = steering.new_command(verb, full=full)
    write_command(name, namespace, command)
    with out.status(f"{namespace}/{name}: waiting for the operator to {verb}"):
        done = wait_for_ack(name, namespace, command.id, timeout)
    if done is None:
        err.print(
            f"the operator did not carry out {verb} within {timeout:.0f}s (is it running?); "
            f"the command stays recorded in the {steering.ANNOTATION} annotation of "
            f"{namespace}/{name}, and the operator carries it out when it runs",
            markup=False,
        )
        raise typer.Exit(1)
    out.print(steered_message(verb, done), markup=False)


#: What each steering verb does to a Canary or BlueGreen release.
STEERING: dict[Verb, str] = {
    "promote": "Go to the next step of a Canary or BlueGreen release (--full: every step).",
    "abort": "Return a Canary or BlueGreen release to the stable (active) version at once.",
    "retry": "Start an aborted Canary or BlueGreen release again.",
    "pause": "Hold a Canary or BlueGreen release at its current step.",
    "resume": "Continue a paused Canary or BlueGreen release.",
}


@app.command(help=STEERING["promote"])
def promote(
    name: Name,
    namespace: Namespace = "default",
    full: Annotated[bool, typer.Option("--full", help="skip every remaining step")] = False,
    timeout: Wait = 20,
) -> None:
    steer("promote", name, namespace, timeout=timeout, full=full)


def _steering(verb: Verb) -> Any:
    def command(name: Name, namespace: Namespace = "default", timeout: Wait = 20) -> None:
        steer(verb, name, namespace, timeout=timeout)

    return command


for _verb, _help in STEERING.items():
    if _verb != "promote":
        app.command(_verb, help=_help)(_steering(_verb))


def main() -> None:
    try:
        app()
    except PluginError as exc:
        err.print(f"error: {exc}")
        raise SystemExit(1) from None
