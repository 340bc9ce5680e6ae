"""The one way a ShopMesh service calls another over HTTP: ClientFactory builds one
ResilientClient per downstream, each with its own keep-alive connections (http1.py).

Every call goes through, outermost first:

    fallback( retry( circuit breaker( bulkhead( timeout( HTTP call )))))

which is Resilience4j's recommended order, Retry(CircuitBreaker(Bulkhead(call))):

- Retry outside the breaker: every attempt is one breaker call, so failed attempts
  open the breaker, and once it is open the next attempt meets CallNotPermitted,
  which is never retried: retries stop instead of hammering a downstream that is down.
- Breaker outside the bulkhead: an open breaker rejects at once, without queueing for
  a slot. A full bulkhead gives the breaker permission back unrecorded: our own
  saturation says nothing about the downstream's health.
- A bulkhead slot is held for one attempt, not across the backoff sleep.
- Timeout inside the bulkhead: the wait for a slot (bounded by its own max wait) does
  not eat the attempt's timeout, and an attempt's duration (for the slow-call rate
  and the histogram) is time on the network only. Every attempt also ends by the
  call's deadline.
- Fallback outermost: the stale answer stands in only once everything inside gave up.

Every request also carries this service's token for the downstream (service_auth's
TokenSource, audience = the downstream's name) when SHOPMESH_SERVICE_TOKEN_SECRET is set.

A 5xx, a timeout or a connection failure is a breaker failure; a 4xx is a success
(the caller's fault). 429 / 502 / 503 / 504 left after the last retry, and any error,
raise DownstreamUnavailable unless a stale answer can stand in; every other answer,
500 included, is returned as it is.

The HTTP call is http1.ConnectionPool's, not aiohttp's or httpx's: the DESIGN measured a
FastAPI proxy at about 5,500 requests/s with an aiohttp.ClientSession against about 600
with an httpx.AsyncClient (10x), and the gateway later measured aiohttp's own cost at
twice that of the small client in http1.py (see there). Each downstream's pool has no
limit of its own: the bulkhead bounds the connections in use, so the pool never becomes
a hidden second bulkhead. Create the factory in the app's lifespan and close it there.
With traces exported, every attempt is a CLIENT span (tracing.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from json import dumps as dump_json

from opentelemetry.propagate import inject

from shopmesh_common.resilience import tracing
from shopmesh_common.resilience.breaker import (
    BreakerState,
    CallNotPermitted,
    CircuitBreaker,
)
from shopmesh_common.resilience.bulkhead import Bulkhead, BulkheadFull
from shopmesh_common.resilience.fallback import (
    Fallback,
    FallbackCache,
    Params,
    fallback_key,
    is_storable,
)
from shopmesh_common.resilience.http1 import (
    BadResponse,
    ConnectFailed,
    ConnectionPool,
    Disconnected,
    Truncated,
    request_target,
)
from shopmesh_common.resilience.metrics import (
    DownstreamMetrics,
    Outcome,
    export_breaker_state,
    set_breaker_state,
)
from shopmesh_common.resilience.response import (
    DownstreamResponse,
    DownstreamUnavailable,
    decoded_headers,
)
from shopmesh_common.resilience.retry import (
    TRANSIENT_STATUSES,
    TransientStatus,
    call_with_retries,
    is_retryable_request,
)
from shopmesh_common.resilience.settings import DownstreamSettings
from shopmesh_common.service_auth import TokenSource, token_source_from_env

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True, kw_only=True)
class _Outgoing:
    """One request as every attempt sends it."""

    method: str
    target: str  # path and query
    body: bytes | None
    headers: Mapping[str, str]


class ResilientClient:
    """Calls one downstream through fallback, retry, breaker, bulkhead and timeout."""

    def __init__(
        self,
        settings: DownstreamSettings,
        *,
        service: str,
        redis: FallbackCache | None = None,
        tokens: TokenSource | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """`tokens` gives the service token for the downstream (None: send none).
        `clock` (monotonic seconds) and `sleep` (the backoff) are there for tests."""
        self.settings = settings
        self.service = service
        self._pool = ConnectionPool(settings.base_url)
        self._tokens = tokens
        self._clock = clock
        self._sleep = sleep
        self._policy = settings.retry_policy
        self._metrics = DownstreamMetrics(service, settings.name)
        self.breaker = CircuitBreaker(settings.name, settings.breaker, clock=clock)
        self.breaker.add_listener(export_breaker_state(service, settings.name))
        self.breaker.add_listener(self._log_transition)
        set_breaker_state(service, settings.name, self.breaker.state)
        self.bulkhead = Bulkhead(
            settings.name, settings.bulkhead_max_concurrent, settings.bulkhead_max_wait_seconds
        )
        self._fallback = (
            Fallback(redis, ttl_seconds=settings.cache_ttl_seconds)
            if redis is not None and settings.cache_fallback
            else None
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: object = None,
        headers: Mapping[str, str] | None = None,
        params: Params | None = None,
        timeout: float | None = None,  # noqa: ASYNC109  (per attempt, see below)
    ) -> DownstreamResponse:
        """`headers` are the caller's (say, Idempotency-Key) and go out as they are,
        with this service's token for the downstream (unless `headers` carry their own
        Authorization) and the current W3C trace context added. `timeout` overrides the settings'
        per-attempt timeout; it is not one for the whole call, which retries within
        the settings' deadline (so asyncio.timeout around this call would cut retries)."""
        method = method.upper()
        fallback = self._fallback if method == "GET" else None
        key = (
            ""
            if fallback is None
            else fallback_key(
                self.service, self.settings.name, method=method, path=path, params=params
            )
        )
        try:
            response = await self._call(
                method,
                path,
                json=json,
                headers=headers,
                params=params,
                attempt_seconds=timeout or self.settings.timeout_seconds,
            )
        except DownstreamUnavailable as unavailable:
            stale = None if fallback is None else await fallback.load(key)
            if stale is None:
                raise
            log.info("%s: serving a stale answer (%s)", self.settings.name, unavailable.reason)
            self._count("fallback")
            return stale
        if fallback is not None and is_storable(response):
            await fallback.store(key, response)
        return response

    async def _call(
        self,
        method: str,
        path: str,
        *,
        json: object,
        headers: Mapping[str, str] | None,
        params: Params | None,
        attempt_seconds: float,
    ) -> DownstreamResponse:
        outgoing = dict(headers) if headers else {}
        self._authorize(outgoing)
        inject(outgoing)
        body = None
        if json is not None:
            body = dump_json(json).encode()
            if not any(name.lower() == "content-type" for name in outgoing):
                outgoing["Content-Type"] = "application/json"
        request = _Outgoing(
            method=method, target=request_target(path, params), body=body, headers=outgoing
        )
        policy = self._policy
        deadline = self._clock() + policy.deadline_seconds

        async def attempt() -> DownstreamResponse:
            remaining = deadline - self._clock()
            if remaining <= 0:  # overslept the backoff
                raise TimeoutError
            return await self._attempt(request, min(attempt_seconds, remaining))

        try:
            response = await call_with_retries(
                attempt,
                policy,
                retryable=is_retryable_request(method, outgoing),
                deadline=deadline,
                attempt_seconds=attempt_seconds,
                clock=self._clock,
                sleep=self._sleep,
            )
        except (CallNotPermitted, BulkheadFull, TransientStatus, TimeoutError) as error:
            raise self._unavailable(error) from error
        except (ConnectionError, BadResponse) as error:
            raise self._unavailable(error) from error
        return response

    async def _attempt(self, request: _Outgoing, attempt_seconds: float) -> DownstreamResponse:
        try:
            self.breaker.acquire_permission()
        except CallNotPermitted:
            self._count("rejected")
            raise
        try:
            await self.bulkhead.acquire()
        except BulkheadFull:
            self.breaker.release_permission()
            self._count("rejected")
            raise
        try:
            response = await self._send_recorded(request, attempt_seconds)
        finally:
            self.bulkhead.release()
        if response.status in TRANSIENT_STATUSES:
            raise TransientStatus(response)
        return response

    async def _send_recorded(
        self, request: _Outgoing, attempt_seconds: float
    ) -> DownstreamResponse:
        """Send, and tell the breaker and the metrics how it went."""
        started = self._clock()
        try:
            active = tracing.tracer
            if active is None:
                raw = await self._pool.request(
                    request.method,
                    request.target,
                    headers=request.headers,
                    body=request.body,
                    timeout=attempt_seconds,
                )
            else:
                raw = await tracing.send_traced(
                    active,
                    self._pool,
                    request.method,
                    request.target,
                    headers=request.headers,
                    body=request.body,
                    seconds=attempt_seconds,
                )
        except (ConnectionError, BadResponse, TimeoutError):
            self._record(failed=True, duration=self._clock() - started)
            raise
        except BaseException:
            # Cancelled, or a bug on our side: says nothing about the downstream.
            self.breaker.release_permission()
            raise
        response = DownstreamResponse(
            status=raw.status, headers=decoded_headers(raw.headers), body=raw.body
        )
        self._record(failed=response.status >= 500, duration=self._clock() - started)
        return response

    def close(self) -> None:
        """Close the idle connections (ClientFactory.close)."""
        self._pool.close()

    def _authorize(self, outgoing: dict[str, str]) -> None:
        """One token for every attempt: it is fresh for at least half its life."""
        if self._tokens is None or any(name.lower() == "authorization" for name in outgoing):
            return
        token = self._tokens.token_for(self.settings.name)
        if token:
            outgoing["Authorization"] = f"Bearer {token}"

    def _record(self, *, failed: bool, duration: float) -> None:
        if failed:
            self.breaker.record_failure(duration)
        else:
            self.breaker.record_success(duration)
        self._count("failure" if failed else "success")
        self._metrics.observe(duration)

    def _count(self, outcome: Outcome) -> None:
        self._metrics.count(outcome)

    def _unavailable(self, error: Exception) -> DownstreamUnavailable:
        response = error.response if isinstance(error, TransientStatus) else None
        return DownstreamUnavailable(self.settings.name, _reason(error), response)

    def _log_transition(self, old: BreakerState, new: BreakerState) -> None:
        log.warning("circuit breaker %s: %s -> %s", self.settings.name, old.value, new.value)


class ClientFactory:
    """One ResilientClient per downstream, looked up by name:
    `factory["inventory"].request("GET", "/items/1")`."""

    def __init__(
        self,
        service: str,
        downstreams: Iterable[DownstreamSettings],
        *,
        redis: FallbackCache | None = None,
        token_source: TokenSource | None = None,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """`token_source` signs calls as `service` (service_auth); None builds one from
        the environment, which is no tokens when SHOPMESH_SERVICE_TOKEN_SECRET is unset."""
        tokens = token_source if token_source is not None else token_source_from_env(service)
        settings = tuple(downstreams)
        names = [each.name for each in settings]
        if len(set(names)) != len(names):
            raise ValueError(f"downstream names must be unique: {names}")
        self.clients: Mapping[str, ResilientClient] = {
            each.name: ResilientClient(
                each,
                service=service,
                redis=redis,
                tokens=tokens,
                clock=clock,
                sleep=sleep,
            )
            for each in settings
        }

    def __getitem__(self, downstream: str) -> ResilientClient:
        return self.clients[downstream]

    async def close(self) -> None:
        for client in self.clients.values():
            client.close()

    async def __aenter__(self) -> ClientFactory:
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.close()


def _reason(error: Exception) -> str:
    """A short, stable reason for logs and for DownstreamUnavailable.reason."""
    match error:
        case CallNotPermitted(state=BreakerState.HALF_OPEN):
            return "circuit half-open"
        case CallNotPermitted():
            return "circuit open"
        case BulkheadFull():
            return "bulkhead full"
        case TransientStatus():
            return f"HTTP {error.response.status}"
        case TimeoutError():
            return "timeout"
        case ConnectFailed(os_error=ConnectionRefusedError()):
            return "connection refused"
        case Truncated():
            return "truncated response"
        case Disconnected():
            return "server disconnected"
        case _:
            return f"{type(error).__name__}: {error}"
