"""The circuit breaker's state machine, step by step, on a clock that moves by hand."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pytest

from shopmesh_common.resilience import (
    BreakerSettings,
    BreakerState,
    CallNotPermitted,
    CircuitBreaker,
)

CLOSED, OPEN, HALF_OPEN = BreakerState.CLOSED, BreakerState.OPEN, BreakerState.HALF_OPEN

# Window 10, judged from 5 calls, opens at 50 % failures or 100 % calls over 1 s,
# stays open 30 s, then lets 3 trial calls through.
SETTINGS = BreakerSettings(
    sliding_window_size=10,
    minimum_number_of_calls=5,
    failure_rate_threshold=50,
    slow_call_rate_threshold=100,
    slow_call_duration=1.0,
    wait_duration_in_open=30,
    permitted_calls_in_half_open=3,
)


@dataclass(frozen=True)
class Step:
    """call: ask permission, then record; acquire / record / release: one half of it."""

    kind: Literal["call", "acquire", "record", "release", "wait"]
    failed: bool = False
    seconds: float = 0.1


def ok(n: int = 1, seconds: float = 0.1) -> list[Step]:
    return [Step("call", seconds=seconds)] * n


def fail(n: int = 1) -> list[Step]:
    return [Step("call", failed=True)] * n


def slow(n: int = 1) -> list[Step]:
    return ok(n, seconds=1.5)


def wait(seconds: float) -> list[Step]:
    return [Step("wait", seconds=seconds)]


def acquire(n: int = 1) -> list[Step]:
    return [Step("acquire")] * n


def record_ok(n: int = 1) -> list[Step]:
    return [Step("record")] * n


def release() -> list[Step]:
    return [Step("release")]


OPENED = ok(5) + fail(5)  # 50 % of 10: opens on the last one
HALF_OPENED = OPENED + wait(30)


def run(breaker: CircuitBreaker, steps: list[Step], advance: Callable[[float], None]) -> int:
    """Play the steps; how many calls the breaker refused."""
    rejected = 0
    for step in steps:
        if step.kind == "wait":
            advance(step.seconds)
            continue
        if step.kind == "release":
            breaker.release_permission()
            continue
        if step.kind in ("call", "acquire"):
            try:
                breaker.acquire_permission()
            except CallNotPermitted:
                rejected += 1
                continue
        if step.kind in ("call", "record"):
            if step.failed:
                breaker.record_failure(step.seconds)
            else:
                breaker.record_success(step.seconds)
    return rejected


@pytest.mark.parametrize(
    ("settings", "steps", "state", "rejected"),
    [
        pytest.param(SETTINGS, fail(4), CLOSED, 0, id="closed: not judged before minimum calls"),
        pytest.param(SETTINGS, fail(5), OPEN, 0, id="closed->open: 100% failures at minimum"),
        pytest.param(SETTINGS, OPENED, OPEN, 0, id="closed->open: failure rate at threshold"),
        pytest.param(SETTINGS, ok(6) + fail(4), CLOSED, 0, id="closed: failure rate below"),
        pytest.param(
            SETTINGS, ok(1) + fail(1) + ok(1) + fail(1) + ok(1) + fail(1), OPEN, 0,
            id="closed->open: alternating failures (never consecutive) still open",
        ),
        pytest.param(SETTINGS, slow(5), OPEN, 0, id="closed->open: slow-call rate 100%"),
        pytest.param(SETTINGS, slow(4) + ok(1), CLOSED, 0, id="closed: slow-call rate below"),
        pytest.param(
            SETTINGS, ok(5, seconds=1.0), CLOSED, 0, id="closed: slow means longer than, not equal"
        ),
        pytest.param(
            BreakerSettings(minimum_number_of_calls=5, slow_call_rate_threshold=60),
            slow(3) + ok(2), OPEN, 0, id="closed->open: slow-call rate at its own threshold",
        ),
        pytest.param(
            SETTINGS, ok(20) + fail(5), OPEN, 0,
            id="sliding window forgets old successes (5 of the last 10 failed)",
        ),
        pytest.param(
            BreakerSettings(sliding_window_size=10, minimum_number_of_calls=10),
            fail(4) + ok(6) + fail(4), CLOSED, 0,
            id="sliding window forgets old failures (8 of 14 failed, 4 of the last 10)",
        ),
        pytest.param(
            BreakerSettings(sliding_window_size=4, minimum_number_of_calls=10), fail(4), OPEN, 0,
            id="minimum calls never above the window size",
        ),
        pytest.param(SETTINGS, OPENED + ok(3), OPEN, 3, id="open: rejects every call"),
        pytest.param(SETTINGS, OPENED + wait(29.9) + ok(1), OPEN, 1, id="open: until the wait"),
        pytest.param(SETTINGS, HALF_OPENED + ok(1), HALF_OPEN, 0, id="open->half-open after wait"),
        pytest.param(SETTINGS, HALF_OPENED + ok(3), CLOSED, 0, id="half-open->closed"),
        pytest.param(
            SETTINGS, HALF_OPENED + ok(1) + fail(2), OPEN, 0, id="half-open->open on failure rate"
        ),
        pytest.param(
            SETTINGS, HALF_OPENED + slow(3), OPEN, 0, id="half-open->open on slow-call rate"
        ),
        pytest.param(
            SETTINGS, HALF_OPENED + acquire(5), HALF_OPEN, 2,
            id="half-open: rejects calls beyond the permitted number",
        ),
        pytest.param(
            SETTINGS, HALF_OPENED + acquire(3) + release() + acquire(1), HALF_OPEN, 0,
            id="half-open: a released permission can be handed out again",
        ),
        pytest.param(
            SETTINGS, HALF_OPENED + acquire(1) + record_ok(3), HALF_OPEN, 0,
            id="half-open: stragglers from before do not count as trials",
        ),
        pytest.param(
            SETTINGS, HALF_OPENED + fail(3) + ok(1), OPEN, 1, id="reopened: waits again"
        ),
        pytest.param(
            SETTINGS, HALF_OPENED + fail(3) + wait(30) + ok(3), CLOSED, 0,
            id="reopened: half-opens again after the wait",
        ),
        pytest.param(
            SETTINGS, HALF_OPENED + ok(3) + fail(4), CLOSED, 0,
            id="closed again: window starts empty (4 failures < minimum)",
        ),
        pytest.param(
            SETTINGS, HALF_OPENED + ok(3) + fail(5), OPEN, 0,
            id="closed again: judged on a full-size window",
        ),
        pytest.param(
            SETTINGS, OPENED + record_ok(20) + wait(30) + fail(3), OPEN, 0,
            id="open: late outcomes change nothing",
        ),
    ],
)  # fmt: skip
def test_transitions(
    settings: BreakerSettings,
    steps: list[Step],
    state: BreakerState,
    rejected: int,
    clock: Callable[[], float],
    advance_clock: Callable[[float], None],
) -> None:
    breaker = CircuitBreaker("inventory", settings, clock=clock)

    assert run(breaker, steps, advance_clock) == rejected
    assert breaker.state is state


def test_listeners_hear_every_transition(
    clock: Callable[[], float], advance_clock: Callable[[float], None]
) -> None:
    breaker = CircuitBreaker("inventory", SETTINGS, clock=clock)
    heard: list[tuple[BreakerState, BreakerState]] = []
    breaker.add_listener(lambda old, new: heard.append((old, new)))

    run(breaker, HALF_OPENED + fail(3) + wait(30) + ok(3), advance_clock)

    assert heard == [
        (CLOSED, OPEN),
        (OPEN, HALF_OPEN),
        (HALF_OPEN, OPEN),
        (OPEN, HALF_OPEN),
        (HALF_OPEN, CLOSED),
    ]


def test_rejection_names_the_breaker_and_its_state(clock: Callable[[], float]) -> None:
    breaker = CircuitBreaker("inventory", SETTINGS, clock=clock)
    run(breaker, OPENED, lambda _seconds: None)

    with pytest.raises(CallNotPermitted, match="'inventory' is open") as refused:
        breaker.acquire_permission()
    assert refused.value.state is OPEN


@pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"sliding_window_size": 0}, id="empty window"),
        pytest.param({"minimum_number_of_calls": 0}, id="no minimum"),
        pytest.param({"permitted_calls_in_half_open": 0}, id="no trial calls"),
        pytest.param({"failure_rate_threshold": 0}, id="failure rate 0"),
        pytest.param({"slow_call_rate_threshold": 101}, id="slow-call rate over 100"),
        pytest.param({"slow_call_duration": 0}, id="every call slow"),
        pytest.param({"wait_duration_in_open": -1}, id="negative wait"),
    ],
)
def test_nonsense_settings_are_refused(settings: dict[str, float]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011  (each has its own message)
        BreakerSettings(**settings)  # type: ignore[arg-type]
