"""Which requests and errors are retried, and how backoff and the deadline bound it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from shopmesh_common.resilience import (
    BulkheadFull,
    CallNotPermitted,
    DownstreamResponse,
    RetryPolicy,
    http1,
    is_retryable_request,
    is_transient,
)
from shopmesh_common.resilience import retry as retry_module
from shopmesh_common.resilience.breaker import BreakerState
from shopmesh_common.resilience.retry import TransientStatus, build_retrying, call_with_retries

KEY = {"Idempotency-Key": "order-42"}


def transient_status(status: int) -> TransientStatus:
    return TransientStatus(DownstreamResponse(status=status))


@pytest.mark.parametrize(
    ("method", "headers", "retryable"),
    [
        pytest.param("GET", None, True, id="GET"),
        pytest.param("get", None, True, id="get, any case"),
        pytest.param("HEAD", None, True, id="HEAD"),
        pytest.param("OPTIONS", None, True, id="OPTIONS"),
        pytest.param("PUT", None, True, id="PUT"),
        pytest.param("DELETE", None, True, id="DELETE"),
        pytest.param("POST", None, False, id="POST"),
        pytest.param("PATCH", None, False, id="PATCH"),
        pytest.param("POST", {"X-Request-Id": "1"}, False, id="POST, other headers"),
        pytest.param("POST", KEY, True, id="POST with Idempotency-Key"),
        pytest.param("PATCH", {"idempotency-key": "k"}, True, id="PATCH with idempotency-key"),
    ],
)
def test_only_safe_or_keyed_requests_are_retryable(
    method: str, headers: dict[str, str] | None, retryable: bool
) -> None:
    assert is_retryable_request(method, headers) is retryable


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        pytest.param(TimeoutError(), True, id="timeout"),
        pytest.param(aiohttp.ServerTimeoutError(), True, id="aiohttp read timeout"),
        pytest.param(aiohttp.ClientConnectionError(), True, id="connection error"),
        pytest.param(aiohttp.ServerDisconnectedError(), True, id="server disconnected"),
        pytest.param(aiohttp.ClientPayloadError(), True, id="truncated body"),
        pytest.param(
            http1.ConnectFailed("x:1", ConnectionRefusedError()), True, id="http1 refused"
        ),
        pytest.param(http1.Disconnected(), True, id="http1 server disconnected"),
        pytest.param(http1.Truncated(), True, id="http1 truncated body"),
        pytest.param(http1.BadResponse(), False, id="http1 not HTTP"),
        pytest.param(transient_status(429), True, id="HTTP 429"),
        pytest.param(transient_status(502), True, id="HTTP 502"),
        pytest.param(transient_status(503), True, id="HTTP 503"),
        pytest.param(transient_status(504), True, id="HTTP 504"),
        pytest.param(CallNotPermitted("inventory", BreakerState.OPEN), False, id="circuit open"),
        pytest.param(BulkheadFull("inventory", 5), False, id="bulkhead full"),
        pytest.param(aiohttp.InvalidURL("x"), False, id="invalid URL"),
        pytest.param(ValueError(), False, id="a bug"),
    ],
)
def test_only_transient_errors_are_retried(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


@pytest.mark.parametrize(
    ("retryable", "errors", "calls", "outcome"),
    [
        pytest.param(True, [transient_status(503)] * 2, 3, "ok", id="503s, then ok"),
        pytest.param(True, [TimeoutError()] * 5, 3, "TimeoutError", id="gives up after 3"),
        pytest.param(False, [transient_status(503)], 1, "TransientStatus", id="not retryable"),
        pytest.param(
            True, [CallNotPermitted("inventory", BreakerState.OPEN)], 1, "CallNotPermitted",
            id="breaker opened: stop at once",
        ),
        pytest.param(True, [ValueError()], 1, "ValueError", id="not transient"),
    ],
)  # fmt: skip
@pytest.mark.parametrize("runner", ["tenacity", "call_with_retries"])
async def test_retrying(
    retryable: bool,
    errors: list[Exception],
    calls: int,
    outcome: str,
    clock: Callable[[], float],
    runner: str,
) -> None:
    errors = list(errors)  # the table's list is shared by both runners
    made = 0

    async def attempt() -> str:
        nonlocal made
        made += 1
        if errors:
            raise errors.pop(0)
        return "ok"

    policy = RetryPolicy(attempts=3)
    timing = {"deadline": clock() + 5, "attempt_seconds": 0.1, "clock": clock, "sleep": _no_sleep}
    result: str
    try:
        if runner == "tenacity":
            result = await build_retrying(policy, retryable=retryable, **timing)(attempt)
        else:
            result = await call_with_retries(attempt, policy, retryable=retryable, **timing)
    except Exception as error:  # the last error comes out as it was raised
        result = type(error).__name__

    assert (made, result) == (calls, outcome)


@pytest.mark.parametrize(
    ("errors", "built"),
    [
        pytest.param([], False, id="first attempt succeeds: no tenacity"),
        pytest.param([ValueError()], False, id="fails for good: no tenacity"),
        pytest.param([TimeoutError()], True, id="worth retrying: tenacity takes over"),
    ],
)
async def test_tenacity_is_built_only_for_a_retry(
    monkeypatch: pytest.MonkeyPatch,
    clock: Callable[[], float],
    errors: list[Exception],
    built: bool,
) -> None:
    errors = list(errors)
    builds = []

    def counting_build(*args: Any, **kwargs: Any) -> Any:
        builds.append(1)
        return build_retrying(*args, **kwargs)

    monkeypatch.setattr(retry_module, "build_retrying", counting_build)

    async def attempt() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    with contextlib.suppress(ValueError):
        await call_with_retries(
            attempt, RetryPolicy(attempts=3), retryable=True, deadline=clock() + 5,
            attempt_seconds=0.1, clock=clock, sleep=_no_sleep,
        )  # fmt: skip

    assert bool(builds) is built


async def _no_sleep(_seconds: float) -> None:
    return None


async def test_no_attempt_starts_that_cannot_finish_by_the_deadline(
    clock: Callable[[], float], advance_clock: Callable[[float], None]
) -> None:
    deadline = clock() + 3.0
    attempt_seconds = 0.7
    sleeps: list[float] = []
    starts: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        advance_clock(seconds)

    async def attempt() -> None:
        starts.append(clock())
        advance_clock(attempt_seconds)  # every attempt times out
        raise TimeoutError

    retrying = build_retrying(
        RetryPolicy(attempts=100, backoff_base_seconds=0.1, backoff_max_seconds=0.4),
        retryable=True,
        deadline=deadline,
        attempt_seconds=attempt_seconds,
        clock=clock,
        sleep=sleep,
    )
    with pytest.raises(TimeoutError):
        await retrying(attempt)

    assert all(start + attempt_seconds <= deadline for start in starts)
    assert 3 <= len(starts) <= 4  # 3 x 0.7 s plus at most 0.4 s between them
    assert all(0 <= seconds <= 0.4 for seconds in sleeps)


async def test_backoff_is_exponential_with_full_jitter(clock: Callable[[], float]) -> None:
    """Attempt n waits uniformly in [0, min(max, base * 2**(n-1))]."""
    by_retry: dict[int, list[float]] = {1: [], 2: [], 3: []}
    for _ in range(200):
        slept: list[float] = []

        async def sleep(seconds: float, slept: list[float] = slept) -> None:
            slept.append(seconds)

        async def attempt() -> None:
            raise TimeoutError

        policy = RetryPolicy(attempts=4, backoff_base_seconds=0.1, backoff_max_seconds=0.3)
        retrying = build_retrying(
            policy, retryable=True, deadline=clock() + 60, attempt_seconds=1,
            clock=clock, sleep=sleep,
        )  # fmt: skip
        with pytest.raises(TimeoutError):
            await retrying(attempt)
        for retry, seconds in enumerate(slept, start=1):
            by_retry[retry].append(seconds)

    for retry, ceiling in {1: 0.1, 2: 0.2, 3: 0.3}.items():
        assert all(0 <= seconds <= ceiling for seconds in by_retry[retry])
        assert max(by_retry[retry]) > 0.8 * ceiling  # reaches up to its ceiling
        assert min(by_retry[retry]) < 0.2 * ceiling  # and down towards 0: jitter
