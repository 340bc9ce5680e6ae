"""`kubectl shopmesh`: the release of a Microservice from the command line (console script
`kubectl-shopmesh`, which kubectl finds on PATH as a plugin; `make env` puts it there).

    kubectl shopmesh status payments -n shop     phase, images, conditions, held release, history
    kubectl shopmesh watch payments -n shop      follows a release: exit 0 released, 1 rolled back
    kubectl shopmesh undo payments -n shop       back to the stable image, through the spec

It talks to the cluster through `kubectl` itself, so the user's context, credentials and
auth plugins apply as they do to every other kubectl command. What a status means
(`release_view`, `verdict`, `undo_target`) is pure and unit-tested; the rest is I/O.
`promote`, `abort`, `retry`, `pause` and `resume` steer BlueGreen and Canary releases,
which the CRD does not accept yet: for a Rolling release they say so and exit 2.
"""

from __future__ import annotations

import enum
import json
import subprocess
import time
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

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


class Verdict(enum.StrEnum):
    """Where a release stands, for `watch`."""

    RUNNING = "running"
    RELEASED = "released"
    ROLLED_BACK = "rolled back"


class PluginError(Exception):
    """A clear, one-line failure: printed without a traceback, exit code 1."""


@dataclass(frozen=True)
class ReleaseView:
    """A Microservice's release, as `status` prints it."""

    name: str
    namespace: str
    strategy: str
    phase: str
    spec_image: str
    running_image: str
    ready: str
    conditions: tuple[tuple[str, str, str, str], ...]
    held: dict[str, Any] | None
    history: tuple[dict[str, Any], ...]


def release_view(body: dict[str, Any]) -> ReleaseView:
    spec, status, meta = body["spec"], body.get("status") or {}, body["metadata"]
    rollout = status.get("rollout") or {}
    held = rollout.get("held")
    want = status.get("replicas", spec.get("replicas", 1))
    return ReleaseView(
        name=meta["name"],
        namespace=meta["namespace"],
        strategy=(spec.get("rollout") or {}).get("strategy", "Rolling"),
        phase=status.get("phase", "Pending"),
        spec_image=spec["image"],
        running_image=held["runningImage"] if held else spec["image"],
        ready=f"{status.get('readyReplicas', 0)}/{want}",
        conditions=tuple(
            (c["type"], c["status"], c.get("reason", ""), c.get("message", ""))
            for c in status.get("conditions", [])
        ),
        held=held,
        history=tuple(rollout.get("history", [])),
    )


def verdict(body: dict[str, Any]) -> Verdict:
    """Released: this generation is Ready with the spec's image; rolled back: it is held
    back (the operator rolled it back, or a user undid it) or the API refused it; running
    otherwise."""
    status = body.get("status") or {}
    generation = body["metadata"].get("generation")
    held = (status.get("rollout") or {}).get("held")
    if held and held.get("generation") == generation:  # by the operator or a user's undo
        return Verdict.ROLLED_BACK
    if status.get("phase") == "Failed" and status.get("observedGeneration") == generation:
        return Verdict.ROLLED_BACK
    if status.get("observedGeneration") == generation and status.get("phase") == "Ready":
        return Verdict.RELEASED if not held else Verdict.RUNNING
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


# --- commands ---------------------------------------------------------------------------


@app.command()
def status(name: Name, namespace: Namespace = "default") -> None:
    """Phase, images, conditions, the held release and the release history."""
    view = release_view(read(name, namespace))
    out.print(
        f"[bold]{view.namespace}/{view.name}[/]  {view.strategy}  phase [bold]{view.phase}[/]"
        f"  ready {view.ready}"
    )
    out.print(f"spec image     {view.spec_image}")
    out.print(f"running image  {view.running_image}")
    if view.held:
        out.print(f"[yellow]held: {view.held['reason']}[/] — {view.held['message']}")
    conditions = Table("condition", "status", "reason", "message", title="conditions")
    for row in view.conditions:
        conditions.add_row(*row)
    out.print(conditions)
    if view.history:
        history = Table("generation", "image", "outcome", "at", title="releases")
        for release in view.history:
            history.add_row(
                str(release["generation"]), release["image"], release["outcome"], release["at"]
            )
        out.print(history)


@app.command()
def watch(
    name: Name,
    namespace: Namespace = "default",
    timeout: Annotated[float, typer.Option(help="give up after this many seconds")] = 900,
) -> None:
    """Follow the current release: exit 0 when released, 1 when rolled back, 2 on timeout."""
    deadline = time.monotonic() + timeout
    with out.status(f"{namespace}/{name}: waiting") as spinner:
        while True:
            body = read(name, namespace)
            view = release_view(body)
            found = verdict(body)
            spinner.update(f"{namespace}/{name}: {view.phase}, ready {view.ready}")
            if found is Verdict.RELEASED:
                out.print(f"[green]released[/] {view.spec_image} ({view.ready} ready)")
                return
            if found is Verdict.ROLLED_BACK:
                reason = view.held["message"] if view.held else view.phase
                err.print(f"[red]rolled back[/]: {reason}")
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


#: The verbs that steer BlueGreen and Canary releases, and what each does there.
STEERING = {
    "promote": "Go to the next step of a BlueGreen or Canary release.",
    "abort": "Return a BlueGreen or Canary release to the stable version.",
    "retry": "Start an aborted BlueGreen or Canary release again.",
    "pause": "Hold a BlueGreen or Canary release at its current step.",
    "resume": "Continue a paused BlueGreen or Canary release.",
}


def _steering(verb: str) -> Any:
    def steer(name: Name, namespace: Namespace = "default") -> None:
        view = release_view(read(name, namespace))
        err.print(
            f"{verb} steers BlueGreen and Canary releases; {view.namespace}/{view.name} uses "
            f"{view.strategy} (use `kubectl shopmesh undo` or `kubectl rollout undo`)"
        )
        raise typer.Exit(2)

    return steer


for _verb, _help in STEERING.items():
    app.command(_verb, help=_help)(_steering(_verb))


def main() -> None:
    try:
        app()
    except PluginError as exc:
        err.print(f"error: {exc}")
        raise SystemExit(1) from None
