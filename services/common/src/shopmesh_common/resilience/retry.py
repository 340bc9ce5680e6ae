"""When to retry a downstream call, and how long to wait: built on tenacity.

A request is retried only when doing it twice is harmless (a safe or idempotent
method, or an Idempotency-Key header the downstream deduplicates on) and only after an
error that may not happen again: a timeout, a connection failure, a truncated body, or
429 / 502 / 503 / 504. Never after another 4xx or a 500 (it will fail the same way),
nor after CallNotPermitted or BulkheadFull (retrying would defeat the breaker and the
bulkhead). Waits are exponential with full jitter (tenacity's wait_random_exponential)
so callers that failed together do not come back together, and no attempt starts that
could not finish before the call's deadline. Used by client.py.

`call_with_retries` runs the first attempt itself and builds tenacity's loop only when
that attempt failed in a way worth retrying: almost every call succeeds the first time,
and building an AsyncRetrying and driving its action chain cost about a tenth of the
CPU of a request proxied by the gateway (py-spy under wrk). The failed first attempt is handed
to tenacity as its own first attempt, so waits, stops and the error raised are exactly
tenacity's.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import aiohttp
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    retry_never,
    stop_after_attempt,
    wait_random_exponential,
)
from tenacity.stop import stop_base

from shopmesh_common.resilience.http1 import ConnectFailed, Disconnected
from shopmesh_common.resilience.response import DownstreamResponse

RETRYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
TRANSIENT_STATUSES = frozenset({429, 502, 503, 504})
IDEMPOTENCY_KEY = "idempotency-key"

T = TypeVar("T")


class TransientStatus(Exception):
    """An answer whose status says "try again later", raised inside an attempt so
    that tenacity sees it as a failure."""

    def __init__(self, response: DownstreamResponse) -> None:
        super().__init__(f"HTTP {response.status}")
        self.response = response


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """`attempts` counts the first one; `deadline_seconds` bounds the whole call."""

    attempts: int = 3
    backoff_base_seconds: float = 0.1
    backoff_max_seconds: float = 2.0
    deadline_seconds: float = 5.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be >= 1")
        if self.backoff_base_seconds < 0 or self.backoff_max_seconds < 0:
            raise ValueError("backoff must be >= 0")
        if self.deadline_seconds <= 0:
            raise ValueError("deadline_seconds must be > 0")


def is_retryable_request(method: str, headers: Mapping[str, str] | None) -> bool:
    """True when sending the request twice has the effect of sending it once."""
    if method.upper() in RETRYABLE_METHODS:
        return True
    return any(name.lower() == IDEMPOTENCY_KEY for name in headers or {})


def is_transient(error: BaseException) -> bool:
    """True for errors a later attempt may not meet again."""
    # http1's errors are what client.py meets; aiohttp's stay for callers of their own.
    # ServerTimeoutError is a ClientConnectionError too; both are transient anyway.
    return isinstance(
        error,
        TimeoutError
        | ConnectFailed
        | Disconnected
        | aiohttp.ClientConnectionError
        | aiohttp.ClientPayloadError
        | TransientStatus,
    )


class StopBeforeDeadline(stop_base):
    """Stop when the next attempt, after its backoff, could not finish by `deadline`."""

    def __init__(self, deadline: float, attempt_seconds: float, clock: Callable[[], float]) -> None:
        self.deadline = deadline
        self.attempt_seconds = attempt_seconds
        self.clock = clock

    def __call__(self, retry_state: RetryCallState) -> bool:
        # tenacity has computed upcoming_sleep (wait) before it asks the stop.
        starts_at = self.clock() + retry_state.upcoming_sleep
        return starts_at + self.attempt_seconds > self.deadline


def build_retrying(
    policy: RetryPolicy,
    *,
    retryable: bool,
    deadline: float,
    attempt_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> AsyncRetrying:
    """The tenacity loop for one call. `deadline` is on `clock`'s scale;
    `attempt_seconds` is the timeout of one attempt. The last error is re-raised."""
    return AsyncRetrying(
        stop=stop_after_attempt(policy.attempts)
        | StopBeforeDeadline(deadline, attempt_seconds, clock),
        wait=wait_random_exponential(
            multiplier=policy.backoff_base_seconds, max=policy.backoff_max_seconds
        ),
        retry=retry_if_exception(is_transient) if retryable else retry_never,
        sleep=sleep,
        reraise=True,
    )


async def call_with_retries(
    attempt: Callable[[], Awaitable[T]],
    policy: RetryPolicy,
    *,
    retryable: bool,
    deadline: float,
    attempt_seconds: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """`attempt()` until it succeeds, as `build_retrying(...)(attempt)` would, without
    tenacity on the way of a first attempt that succeeds (or fails for good)."""
    try:
        return await attempt()
    except Exception as error:
        if not retryable or policy.attempts == 1 or not is_transient(error):
            raise
        first: BaseException | None = error

    async def replay_first_then_attempt() -> T:
        # tenacity's attempt 1 is the one that already failed: it re-raises its error,
        # so the backoff, the stop rules and the attempt numbers are the usual ones.
        nonlocal first
        if first is not None:
            failed, first = first, None
            raise failed
        return await attempt()

    retrying = build_retrying(
        policy,
        retryable=retryable,
        deadline=deadline,
        attempt_seconds=attempt_seconds,
        clock=clock,
        sleep=sleep,
    )
    result: T = await retrying(replay_first_then_attempt)
    return result
