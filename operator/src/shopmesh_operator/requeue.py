"""Re-checks that only time brings: which Microservices to look at again, and when.

Most changes wake a Microservice through a watch event. One does not: a container
that runs without passing its readiness probe changes nothing in the cluster when
its grace (pod_health.READINESS_GRACE_SECONDS) runs out. So reconcile records
here when to look again ("not yet" is a requeue, not a sleep), and the Watcher,
which already wakes Microservices on child events, takes the due ones every
second and reconciles them behind the same peering gate. Like callers.py, this
is a small module-level registry: nothing survives a restart, and the resume
pass of a new process records the re-check again.
Used by reconcile.py (recheck_later) and watch.py (take_due).
"""

from __future__ import annotations

import time

Ref = tuple[str, str]  # (namespace, name)

_due: dict[Ref, float] = {}


def recheck_later(ref: Ref, seconds: float, *, now: float | None = None) -> None:
    """Look at `ref` again in `seconds` (an earlier re-check already asked for stays)."""
    at = (time.monotonic() if now is None else now) + seconds
    _due[ref] = min(at, _due.get(ref, at))


def take_due(*, now: float | None = None) -> list[Ref]:
    """The Microservices whose re-check time has come; forgets them."""
    moment = time.monotonic() if now is None else now
    due = sorted(ref for ref, at in _due.items() if at <= moment)
    for ref in due:
        del _due[ref]
    return due
