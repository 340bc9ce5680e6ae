"""How a person steers a release: `kubectl shopmesh promote|abort|retry|pause|resume`
writes one command into the Microservice's `release.shopmesh.io/steer` annotation, and the
operator carries it out on its next pass and records its id in `status.rollout.steered`.

An annotation rather than a spec field: a spec change is a new release (a new
generation), while a command steers the release in progress. An id makes every command
happen once, also across operator restarts (the status says which one was done last), and
lets the plugin wait until the operator acknowledged it. Not under `shopmesh.io/`: kopf
keeps its own state there and leaves annotations under that prefix out of what it compares,
so a change to one would never wake the operator. Used by canary.py (reading) and
kubectl_shopmesh.py (writing).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

ANNOTATION = "release.shopmesh.io/steer"

Verb = Literal["promote", "abort", "retry", "pause", "resume"]
VERBS: tuple[str, ...] = get_args(Verb)


@dataclass(frozen=True)
class Command:
    id: str
    verb: Verb
    #: promote --full: skip every remaining step.
    full: bool = False

    def encode(self) -> str:
        return json.dumps({"id": self.id, "verb": self.verb, "full": self.full}, sort_keys=True)


def new_command(verb: Verb, *, full: bool = False) -> Command:
    return Command(id=uuid.uuid4().hex[:12], verb=verb, full=full)


def read_command(annotations: Mapping[str, str]) -> Command | None:
    """The command in the annotation; None when there is none or it is not one of ours."""
    raw = annotations.get(ANNOTATION)
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    verb, id_ = data.get("verb"), data.get("id")
    if verb not in VERBS or not isinstance(id_, str) or not id_:
        return None
    return Command(id=id_, verb=verb, full=bool(data.get("full", False)))


def pending_command(annotations: Mapping[str, str], steered: str | None) -> Command | None:
    """The command not carried out yet, if any."""
    command = read_command(annotations)
    return command if command is not None and command.id != steered else None
