"""Re-checks that only time brings: which Microservices to look at again, and when.

Most changes wake a Microservice through a watch event. One does not: a container
that runs without passing its readiness probe changes nothing in the cluster when
its grace (pod_health.READINESS_GRACE_SECONDS) runs out. So reconcile records
here when to look again ("not yet" is a requeue, not a sleep), and the Watcher,
which already wakes Microservices on child events, takes the due ones every
second and reconciles them behind the same peering gate. One instance lives on the
operator's `Reconciler` (reconcile.py): nothing survives a restart, and the resume
pass of a new process records the re-check again. watch.py takes the due ones.
"""

from __future__ import annotations

import time

Ref = tuple[str, str]  # (namespace, name)


class Requeue:
    """When to look at which Microservice again."""

    def __init__(self) -> None:
        self._due: dict[Ref, float] = {}

    def later(self, ref: Ref, seconds: float, *, now: float | None = None) -> None:
        """Look at `ref` again in `seconds` (an earlier re-check already asked for stays)."""
        at = (time.monotonic() if now is None else now) + seconds
        self._due[ref] = min(at, self._due.get(ref, at))

    def due_at(self, ref: Ref) -> float | None:
        """When `ref` is to be looked at again (time.monotonic()), if at all."""
        return self._due.get(ref)

    def take_due(self, *, now: float | None = None) -> list[Ref]:
        """The Microservices whose re-check time has come; forgets them."""
        moment = time.monotonic() if now is None else now
        due = sorted(ref for ref, at in self._due.items() if at <= moment)
        for ref in due:
            del self._due[ref]
        return due
