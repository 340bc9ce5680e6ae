"""The order saga as a pure state machine: state + step outcome -> next state.

Steps, in order: reserve stock (inventory), charge (payments), commit the reservation
(inventory) -> CONFIRMED. Every step has a deadline; within it an uncertain outcome (timeout,
5xx, circuit open) is retried with the same idempotency key, past it the saga compensates.
A refusal (out of stock, declined) compensates at once. Compensations run in reverse order
(refund, then release) and are retried until they succeed: they are idempotent on the
participants' side, and a saga that gave up on them would leave money or stock wrong.

Why an uncertain charge compensates with a refund: a charge whose answer was lost may have
happened; refunding by order id is harmless when it did not (payments then records a
tombstone that refuses a late charge), so "confirmed if and only if charged and not
refunded" holds whatever the network did. The same holds for an uncertain reservation
(release leaves a tombstone in inventory).

No I/O here: `service_layer.saga_runner` feeds outcomes in and persists what comes out;
unit tests drive every transition through a table.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class Status(StrEnum):
    """Where an order's saga is. CONFIRMED and FAILED are terminal."""

    PENDING = "PENDING"  # next: reserve
    RESERVED = "RESERVED"  # next: charge
    CHARGED = "CHARGED"  # next: commit the reservation
    COMPENSATING = "COMPENSATING"  # next: the first pending compensation
    CONFIRMED = "CONFIRMED"
    FAILED = "FAILED"


class Step(StrEnum):
    """A call the saga makes to a participant."""

    RESERVE = "reserve"
    CHARGE = "charge"
    COMMIT = "commit"
    REFUND = "refund"
    RELEASE = "release"


class Outcome(StrEnum):
    """How a participant answered."""

    OK = "ok"  # done (or already done: every step is idempotent)
    REFUSED = "refused"  # a definite no (out of stock, declined, expired)
    UNCERTAIN = "uncertain"  # no answer we can trust (timeout, 5xx, circuit open)


TERMINAL = frozenset({Status.CONFIRMED, Status.FAILED})
FORWARD_STEP = {
    Status.PENDING: Step.RESERVE,
    Status.RESERVED: Step.CHARGE,
    Status.CHARGED: Step.COMMIT,
}
FORWARD_NEXT = {
    Status.PENDING: Status.RESERVED,
    Status.RESERVED: Status.CHARGED,
    Status.CHARGED: Status.CONFIRMED,
}
# What must be undone when the saga gives up in a state, in the order to undo it.
COMPENSATIONS: dict[Status, tuple[Step, ...]] = {
    Status.PENDING: (Step.RELEASE,),  # a reservation may have landed
    Status.RESERVED: (Step.REFUND, Step.RELEASE),  # a charge may have landed
    Status.CHARGED: (Step.REFUND, Step.RELEASE),
}
# Reasons a step's deadline gives when it passes.
TIMEOUT_REASON = {
    Step.RESERVE: "inventory_unavailable",
    Step.CHARGE: "payment_unavailable",
    Step.COMMIT: "inventory_unavailable",
}


@dataclass(frozen=True)
class SagaState:
    """The persisted state of one order's saga."""

    status: Status
    step_deadline: datetime
    compensations: tuple[Step, ...] = ()
    reason: str | None = None
    version: int = 1  # grows on every transition; the events' per-aggregate sequence

    @property
    def next_step(self) -> Step | None:
        """The call to make now, or None when the saga is over."""
        if self.status in TERMINAL:
            return None
        if self.status is Status.COMPENSATING:
            return self.compensations[0] if self.compensations else None
        return FORWARD_STEP[self.status]

    @property
    def terminal(self) -> bool:
        """CONFIRMED or FAILED."""
        return self.status in TERMINAL


@dataclass(frozen=True)
class StepResult:
    """A participant's answer, classified."""

    outcome: Outcome
    reason: str | None = None


def start(now: datetime, step_timeout: timedelta) -> SagaState:
    """A new saga, about to reserve."""
    return SagaState(status=Status.PENDING, step_deadline=now + step_timeout)


def advance(
    state: SagaState, result: StepResult, *, now: datetime, step_timeout: timedelta
) -> SagaState:
    """The state after `state.next_step` answered `result` at `now`.

    Returns `state` itself (same version) when nothing changes yet: an uncertain answer
    before the step's deadline, which the runner retries after a backoff.
    """
    step = state.next_step
    if step is None:
        return state
    if state.status is Status.COMPENSATING:
        return _advance_compensation(state, result, now=now)
    if result.outcome is Outcome.OK:
        return _moved(state, FORWARD_NEXT[state.status], now=now, step_timeout=step_timeout)
    if result.outcome is Outcome.REFUSED:
        reason = result.reason or f"{step}_refused"
        if step is Step.RESERVE:  # nothing was reserved: nothing to undo
            return _moved(state, Status.FAILED, now=now, step_timeout=step_timeout, reason=reason)
        compensations = (Step.RELEASE,) if step is Step.CHARGE and _is_decline(reason) else None
        return _compensate(state, reason, now=now, compensations=compensations)
    if now < state.step_deadline:
        return state  # uncertain, still in time: retry the same step
    return _compensate(state, TIMEOUT_REASON[step], now=now)


def _is_decline(reason: str) -> bool:
    # A decline is a definite "not charged": no refund needed, only the stock goes back.
    return reason == "payment_declined"


def _compensate(
    state: SagaState, reason: str, *, now: datetime, compensations: tuple[Step, ...] | None = None
) -> SagaState:
    return replace(
        state,
        status=Status.COMPENSATING,
        compensations=compensations if compensations is not None else COMPENSATIONS[state.status],
        reason=reason,
        step_deadline=now,
        version=state.version + 1,
    )


def _advance_compensation(state: SagaState, result: StepResult, *, now: datetime) -> SagaState:
    if result.outcome is Outcome.UNCERTAIN:
        return state  # compensations are retried until they succeed
    # OK, or a definite refusal meaning "nothing to undo" (e.g. the reservation expired).
    remaining = state.compensations[1:]
    if remaining:
        return replace(state, compensations=remaining, version=state.version + 1)
    return replace(
        state, status=Status.FAILED, compensations=(), step_deadline=now, version=state.version + 1
    )


def _moved(
    state: SagaState,
    status: Status,
    *,
    now: datetime,
    step_timeout: timedelta,
    reason: str | None = None,
) -> SagaState:
    return replace(
        state,
        status=status,
        step_deadline=now + step_timeout,
        reason=reason if reason is not None else state.reason,
        version=state.version + 1,
    )
