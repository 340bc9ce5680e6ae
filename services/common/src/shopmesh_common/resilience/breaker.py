"""A circuit breaker per downstream, with Resilience4j's semantics.

Why not pybreaker, aiobreaker or circuitbreaker: the Python breakers we know of open
after N *consecutive* failures. A downstream that fails every other call never trips
them, and one that answers, but only after seconds, never trips them at all. Resilience4j
judges the last `sliding_window_size` calls by their failure *rate* and their slow-call
*rate*, judges nothing before `minimum_number_of_calls`, and tests recovery with a fixed
number of half-open calls whose own rates decide between closing and opening again. The
shop's SLOs are written against that behaviour, so this module implements it (the
count-based window; Resilience4j's time-based window and its DISABLED / FORCED_OPEN
states are not needed here).

    CLOSED --rate over threshold--> OPEN --wait_duration_in_open, next call--> HALF_OPEN
    HALF_OPEN --permitted calls below thresholds--> CLOSED (window reset)
    HALF_OPEN --permitted calls over a threshold--> OPEN

Pure, synchronous logic: nothing awaits between reading and changing the state, so on
one event loop it needs no lock. The clock is injected so tests step time by hand.
Used by client.py, which feeds its state transitions to metrics.py through a listener.
"""

from __future__ import annotations

import enum
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


TransitionListener = Callable[[BreakerState, BreakerState], None]
"""Called with (old state, new state) on every transition."""


class CallNotPermitted(Exception):
    """The breaker is open, or half-open with all its trial calls handed out."""

    def __init__(self, name: str, state: BreakerState) -> None:
        super().__init__(f"circuit breaker {name!r} is {state.value}")
        self.name = name
        self.state = state


@dataclass(frozen=True, kw_only=True)
class BreakerSettings:
    """Resilience4j's count-based breaker settings; rates in percent, times in seconds.

    A call is slow when it takes longer than `slow_call_duration`; the breaker opens when
    the failure rate or the slow-call rate is at or above its threshold.
    """

    sliding_window_size: int = 20
    minimum_number_of_calls: int = 10
    failure_rate_threshold: float = 50.0
    slow_call_rate_threshold: float = 100.0
    slow_call_duration: float = 1.0
    wait_duration_in_open: float = 30.0
    permitted_calls_in_half_open: int = 3

    def __post_init__(self) -> None:
        if self.sliding_window_size < 1 or self.minimum_number_of_calls < 1:
            raise ValueError("sliding_window_size and minimum_number_of_calls must be >= 1")
        if self.permitted_calls_in_half_open < 1:
            raise ValueError("permitted_calls_in_half_open must be >= 1")
        for rate in (self.failure_rate_threshold, self.slow_call_rate_threshold):
            if not 0 < rate <= 100:
                raise ValueError("rate thresholds are percentages in (0, 100]")
        if self.slow_call_duration <= 0 or self.wait_duration_in_open < 0:
            raise ValueError("slow_call_duration must be > 0, wait_duration_in_open >= 0")


class _Window:
    """The outcomes of the last `size` calls, with running totals."""

    def __init__(self, size: int) -> None:
        self._outcomes: deque[tuple[bool, bool]] = deque()
        self._size = size
        self._failures = 0
        self._slow = 0

    def __len__(self) -> int:
        return len(self._outcomes)

    def record(self, *, failed: bool, slow: bool) -> None:
        if len(self._outcomes) == self._size:
            old_failed, old_slow = self._outcomes.popleft()
            self._failures -= old_failed
            self._slow -= old_slow
        self._outcomes.append((failed, slow))
        self._failures += failed
        self._slow += slow

    def exceeds(self, settings: BreakerSettings) -> bool:
        calls = len(self._outcomes)
        failure_rate = 100.0 * self._failures / calls
        slow_call_rate = 100.0 * self._slow / calls
        return (
            failure_rate >= settings.failure_rate_threshold
            or slow_call_rate >= settings.slow_call_rate_threshold
        )


class CircuitBreaker:
    """Ask `acquire_permission()` before a call, then `record_success` or
    `record_failure` with its duration, or `release_permission()` if it never ran."""

    def __init__(
        self,
        name: str,
        settings: BreakerSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.settings = settings or BreakerSettings()
        self._clock = clock
        self._listeners: list[TransitionListener] = []
        self._state = BreakerState.CLOSED
        self._window = _Window(self.settings.sliding_window_size)
        self._opened_at = 0.0
        self._trials_left = 0

    @property
    def state(self) -> BreakerState:
        """The state as of the last call: OPEN stays OPEN until a call arrives after
        `wait_duration_in_open` (Resilience4j without automatic transition)."""
        return self._state

    def add_listener(self, listener: TransitionListener) -> None:
        self._listeners.append(listener)

    def acquire_permission(self) -> None:
        """Return if the call may go ahead; raise CallNotPermitted if not."""
        if self._state is BreakerState.OPEN:
            if self._clock() - self._opened_at < self.settings.wait_duration_in_open:
                raise CallNotPermitted(self.name, self._state)
            self._transition(BreakerState.HALF_OPEN)
        if self._state is BreakerState.HALF_OPEN:
            if self._trials_left == 0:
                raise CallNotPermitted(self.name, self._state)
            self._trials_left -= 1

    def release_permission(self) -> None:
        """Give back a permission whose call never ran (say, the bulkhead was full)."""
        if self._state is BreakerState.HALF_OPEN:
            self._trials_left = min(self._trials_left + 1, self._trials_permitted)

    def record_success(self, duration: float) -> None:
        self._record(failed=False, duration=duration)

    def record_failure(self, duration: float) -> None:
        self._record(failed=True, duration=duration)

    @property
    def _trials_permitted(self) -> int:
        return self.settings.permitted_calls_in_half_open

    def _record(self, *, failed: bool, duration: float) -> None:
        slow = duration > self.settings.slow_call_duration
        if self._state is BreakerState.CLOSED:
            self._window.record(failed=failed, slow=slow)
            enough = min(self.settings.minimum_number_of_calls, self.settings.sliding_window_size)
            if len(self._window) >= enough and self._window.exceeds(self.settings):
                self._transition(BreakerState.OPEN)
        elif self._state is BreakerState.HALF_OPEN:
            # Count no more outcomes than trials handed out: a straggler admitted while
            # the breaker was still closed must not be judged as a trial call.
            if len(self._window) >= self._trials_permitted - self._trials_left:
                return
            self._window.record(failed=failed, slow=slow)
            if len(self._window) == self._trials_permitted:
                exceeded = self._window.exceeds(self.settings)
                self._transition(BreakerState.OPEN if exceeded else BreakerState.CLOSED)
        # OPEN: outcomes of calls admitted before it opened change nothing.

    def _transition(self, new: BreakerState) -> None:
        old, self._state = self._state, new
        if new is BreakerState.OPEN:
            self._opened_at = self._clock()
        elif new is BreakerState.HALF_OPEN:
            self._window = _Window(self._trials_permitted)
            self._trials_left = self._trials_permitted
        else:
            self._window = _Window(self.settings.sliding_window_size)
        for listener in self._listeners:
            listener(old, new)
