"""The saga's transitions, one row per (state, answer) pair, and whole runs through it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shopmesh_orders.domain.saga import (
    Outcome,
    SagaState,
    Status,
    Step,
    StepResult,
    advance,
    start,
)

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
TIMEOUT = timedelta(seconds=10)
IN_TIME = T0 + timedelta(seconds=1)
LATE = T0 + timedelta(seconds=11)
OK = StepResult(Outcome.OK)
UNSURE = StepResult(Outcome.UNCERTAIN, "timeout")


def state(
    status: Status, compensations: tuple[Step, ...] = (), reason: str | None = None
) -> SagaState:
    return SagaState(
        status=status, step_deadline=T0 + TIMEOUT, compensations=compensations, reason=reason
    )


@pytest.mark.parametrize(
    ("before", "result", "now", "status", "compensations", "reason"),
    [
        # forward steps
        (state(Status.PENDING), OK, IN_TIME, Status.RESERVED, (), None),
        (state(Status.RESERVED), OK, IN_TIME, Status.CHARGED, (), None),
        (state(Status.CHARGED), OK, IN_TIME, Status.CONFIRMED, (), None),
        # refusals: nothing reserved -> FAILED at once; declined -> only release
        (
            state(Status.PENDING),
            StepResult(Outcome.REFUSED, "out_of_stock"),
            IN_TIME,
            Status.FAILED,
            (),
            "out_of_stock",
        ),
        (
            state(Status.RESERVED),
            StepResult(Outcome.REFUSED, "payment_declined"),
            IN_TIME,
            Status.COMPENSATING,
            (Step.RELEASE,),
            "payment_declined",
        ),
        (
            state(Status.RESERVED),
            StepResult(Outcome.REFUSED, "payment_refused"),
            IN_TIME,
            Status.COMPENSATING,
            (Step.REFUND, Step.RELEASE),
            "payment_refused",
        ),
        (
            state(Status.CHARGED),
            StepResult(Outcome.REFUSED, "commit_refused"),
            IN_TIME,
            Status.COMPENSATING,
            (Step.REFUND, Step.RELEASE),
            "commit_refused",
        ),
        # uncertain past the deadline: undo whatever may have happened
        (
            state(Status.PENDING),
            UNSURE,
            LATE,
            Status.COMPENSATING,
            (Step.RELEASE,),
            "inventory_unavailable",
        ),
        (
            state(Status.RESERVED),
            UNSURE,
            LATE,
            Status.COMPENSATING,
            (Step.REFUND, Step.RELEASE),
            "payment_unavailable",
        ),
        (
            state(Status.CHARGED),
            UNSURE,
            LATE,
            Status.COMPENSATING,
            (Step.REFUND, Step.RELEASE),
            "inventory_unavailable",
        ),
        # compensations: pop on OK or refusal, FAILED when none left
        (
            state(Status.COMPENSATING, (Step.REFUND, Step.RELEASE), "payment_unavailable"),
            OK,
            LATE,
            Status.COMPENSATING,
            (Step.RELEASE,),
            "payment_unavailable",
        ),
        (
            state(Status.COMPENSATING, (Step.RELEASE,), "payment_declined"),
            OK,
            LATE,
            Status.FAILED,
            (),
            "payment_declined",
        ),
        (
            state(Status.COMPENSATING, (Step.RELEASE,), "x"),
            StepResult(Outcome.REFUSED, "gone"),
            LATE,
            Status.FAILED,
            (),
            "x",
        ),
    ],
)
def test_transition(
    before: SagaState,
    result: StepResult,
    now: datetime,
    status: Status,
    compensations: tuple[Step, ...],
    reason: str | None,
) -> None:
    after = advance(before, result, now=now, step_timeout=TIMEOUT)
    assert (after.status, after.compensations, after.reason) == (status, compensations, reason)
    assert after.version == before.version + 1


@pytest.mark.parametrize(
    "before",
    [
        state(Status.PENDING),
        state(Status.RESERVED),
        state(Status.CHARGED),
        state(Status.COMPENSATING, (Step.REFUND, Step.RELEASE), "r"),
    ],
)
def test_uncertain_in_time_changes_nothing(before: SagaState) -> None:
    assert advance(before, UNSURE, now=IN_TIME, step_timeout=TIMEOUT) is before


def test_compensation_is_retried_even_long_after_the_deadline() -> None:
    before = state(Status.COMPENSATING, (Step.REFUND,), "r")
    later = T0 + timedelta(days=1)
    assert advance(before, UNSURE, now=later, step_timeout=TIMEOUT) is before


@pytest.mark.parametrize(
    ("status", "step"),
    [
        (Status.PENDING, Step.RESERVE),
        (Status.RESERVED, Step.CHARGE),
        (Status.CHARGED, Step.COMMIT),
        (Status.CONFIRMED, None),
        (Status.FAILED, None),
    ],
)
def test_next_step(status: Status, step: Step | None) -> None:
    assert state(status).next_step == step


def test_terminal_states_do_not_move() -> None:
    for status in (Status.CONFIRMED, Status.FAILED):
        done = state(status)
        assert advance(done, OK, now=LATE, step_timeout=TIMEOUT) is done


def test_forward_step_gets_a_fresh_deadline() -> None:
    after = advance(start(T0, TIMEOUT), OK, now=IN_TIME, step_timeout=TIMEOUT)
    assert after.step_deadline == IN_TIME + TIMEOUT


@pytest.mark.parametrize(
    ("answers", "final", "reason", "calls"),
    [
        ({}, Status.CONFIRMED, None, ["reserve", "charge", "commit"]),
        (
            {"charge": Outcome.REFUSED},
            Status.FAILED,
            "payment_declined",
            ["reserve", "charge", "release"],
        ),
        (
            {"commit": Outcome.REFUSED},
            Status.FAILED,
            "commit_refused",
            ["reserve", "charge", "commit", "refund", "release"],
        ),
        ({"reserve": Outcome.REFUSED}, Status.FAILED, "out_of_stock", ["reserve"]),
    ],
)
def test_whole_saga(
    answers: dict[str, Outcome], final: Status, reason: str | None, calls: list[str]
) -> None:
    reasons = {"charge": "payment_declined", "reserve": "out_of_stock", "commit": "commit_refused"}
    saga, made = start(T0, TIMEOUT), []
    while (step := saga.next_step) is not None:
        made.append(step.value)
        outcome = answers.get(step.value, Outcome.OK)
        reason_given = reasons.get(step.value) if outcome is Outcome.REFUSED else None
        saga = advance(saga, StepResult(outcome, reason_given), now=IN_TIME, step_timeout=TIMEOUT)
    assert (saga.status, saga.reason, made) == (final, reason, calls)
