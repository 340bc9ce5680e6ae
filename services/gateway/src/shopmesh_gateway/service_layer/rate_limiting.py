"""Rate limiting per route, per user and per client IP, with Redis as the shared counter.

`check(route, subject=..., ip=...)` counts the request against every policy of the route
(domain.rate_limits.policy_for) in one Redis round trip and returns the verdict with its
headers. When Redis fails or is slow, the setting `on_error` decides: "allow" (default:
the shop stays up without limits) or "deny" (503); either way it is logged and counted in
shopmesh_gateway_rate_limit_errors_total. After a failure Redis is left alone for
`retry_seconds` so that a dead Redis does not cost every request a connection attempt.

Used by api.pipeline; the Redis side is adapters.rate_limiter. What a route is limited by
(bucket, limits, windows) is worked out once per route and kept: the policies are fixed
for the life of the process, and every request of the shop asks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from ..domain.rate_limits import Count, RoutePolicy, Verdict, judge, policy_for
from ..metrics import RATE_LIMIT_ERRORS, RATE_LIMITED

log = logging.getLogger(__name__)

ALLOWED = Verdict(allowed=True, headers=())
UNAVAILABLE = "unavailable"  # Verdict.exceeded_scope when refused because Redis failed


class Counter(Protocol):
    async def hit(
        self, keys: Sequence[str], limits: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]]: ...


@dataclass(frozen=True, slots=True)
class _Scope:
    """One limit a route's requests count against: per user or per IP."""

    name: str  # "user" or "ip"
    key_prefix: str  # the Redis key, less the user or IP
    limit: int
    window_ms: int


class RateLimiting:
    def __init__(
        self,
        counter: Counter,
        *,
        policies: dict[str, RoutePolicy],
        on_error: Literal["allow", "deny"],
        retry_seconds: float,
        service: str,
        key_prefix: str = "shopmesh:gateway:rl",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counter = counter
        self._policies = policies
        self._on_error = on_error
        self._retry_seconds = retry_seconds
        self._service = service
        self._clock = clock
        self._skip_until = 0.0
        self._prefix = key_prefix
        self._scopes: dict[str, tuple[_Scope, ...]] = {}

    async def check(self, route: str, *, subject: str | None, ip: str) -> Verdict:
        """Count this request; the verdict says whether it may go on."""
        scopes = self._scopes.get(route)
        if scopes is None:
            scopes = self._scopes[route] = self._scopes_of(route)
        counted_scopes: list[_Scope] = []
        keys: list[str] = []
        for scope in scopes:
            if scope.name == "user":
                if subject is None:
                    continue
                keys.append(scope.key_prefix + subject)
            else:
                keys.append(scope.key_prefix + ip)
            counted_scopes.append(scope)
        if not keys:
            return ALLOWED
        if self._clock() < self._skip_until:
            return self._failed()
        try:
            limits = [(scope.limit, scope.window_ms) for scope in counted_scopes]
            counted = await self._counter.hit(keys, limits)
        except Exception as error:
            self._skip_until = self._clock() + self._retry_seconds
            log.warning(
                "rate limiter: Redis failed (%s); %s requests for %.1f s",
                error or type(error).__name__,
                "allowing" if self._on_error == "allow" else "refusing",
                self._retry_seconds,
            )
            return self._failed()
        verdict = judge(
            [
                (scope.name, Count(limit=scope.limit, count=count, reset_ms=reset_ms))
                for scope, (count, reset_ms) in zip(counted_scopes, counted, strict=True)
            ]
        )
        if not verdict.allowed:
            RATE_LIMITED.labels(self._service, route, verdict.exceeded_scope).inc()
        return verdict

    def _scopes_of(self, route: str) -> tuple[_Scope, ...]:
        bucket, policy = policy_for(route, self._policies)
        scopes = []
        if policy.per_user is not None:
            limit = policy.per_user
            prefix = f"{self._prefix}:{bucket}:user:"
            scopes.append(_Scope("user", prefix, limit.limit, limit.window_seconds * 1000))
        if policy.per_ip is not None:
            limit = policy.per_ip
            prefix = f"{self._prefix}:{bucket}:ip:"
            scopes.append(_Scope("ip", prefix, limit.limit, limit.window_seconds * 1000))
        return tuple(scopes)

    def _failed(self) -> Verdict:
        RATE_LIMIT_ERRORS.labels(self._service, self._on_error).inc()
        if self._on_error == "allow":
            return ALLOWED
        return Verdict(allowed=False, headers=(("Retry-After", "1"),), exceeded_scope=UNAVAILABLE)
