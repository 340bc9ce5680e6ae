"""Rate-limit policies and the arithmetic of their answer: allowed or not, and the headers.

A policy is "at most `limit` requests per `window_seconds`", counted per user (the verified
subject, or the API key) and per client IP, each configurable per route (settings
`rate_limits`, keyed by route name, with `default` for routes that have no entry of their
own). The counters live in Redis (adapters.rate_limiter); this module only turns the
counts Redis returned into a verdict and the headers every limited response carries:

- `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (seconds until the oldest
  request counted leaves the sliding window, freeing a slot): the widely implemented
  form of the IETF httpapi rate-limit headers draft, for the policy closest to
  refusing (the fewest requests left);
- `Retry-After` on a 429: when the longest-blocked policy opens again.

Pure and synchronous; used by service_layer.rate_limiting and the unit tests.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field


class RateLimit(BaseModel):
    """`limit` requests per `window_seconds`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(ge=1, le=1_000_000)
    window_seconds: int = Field(ge=1, le=86_400)


class RoutePolicy(BaseModel):
    """A route's limits; a scope left out is not limited on that route."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    per_user: RateLimit | None = None
    per_ip: RateLimit | None = None


DEFAULT_POLICY = "default"

# Sign-up and login are the targets of credential stuffing and cost an argon2 hash each:
# much stricter per IP than the rest.
DEFAULT_RATE_LIMITS: dict[str, RoutePolicy] = {
    DEFAULT_POLICY: RoutePolicy(
        per_user=RateLimit(limit=100, window_seconds=60),
        per_ip=RateLimit(limit=300, window_seconds=60),
    ),
    "auth.signup": RoutePolicy(per_ip=RateLimit(limit=10, window_seconds=60)),
    "auth.login": RoutePolicy(per_ip=RateLimit(limit=20, window_seconds=60)),
}


@dataclass(frozen=True, slots=True)
class Count:
    """What Redis said about one counter after this request was counted."""

    limit: int
    count: int
    reset_ms: int  # until the oldest request counted leaves the window

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def exceeded(self) -> bool:
        return self.count > self.limit

    @property
    def reset_seconds(self) -> int:
        # Rounded up: a client that waits this long is never early.
        return max(1, math.ceil(self.reset_ms / 1000))


@dataclass(frozen=True, slots=True)
class Verdict:
    """Allowed or not, and the headers to send either way."""

    allowed: bool
    headers: tuple[tuple[str, str], ...]
    exceeded_scope: str | None = None  # "user" or "ip" when refused


def judge(counts: Sequence[tuple[str, Count]]) -> Verdict:
    """The verdict for one request from its counters, as (scope, Count) pairs."""
    if not counts:
        return Verdict(allowed=True, headers=())
    # The policy closest to refusing tells the client what to expect next; on a tie,
    # the one that stays closed longer.
    tightest = min(counts, key=lambda item: (item[1].remaining, -item[1].reset_ms))[1]
    headers = [
        ("RateLimit-Limit", str(tightest.limit)),
        ("RateLimit-Remaining", str(tightest.remaining)),
        ("RateLimit-Reset", str(tightest.reset_seconds)),
    ]
    exceeded = [(scope, count) for scope, count in counts if count.exceeded]
    if not exceeded:
        return Verdict(allowed=True, headers=tuple(headers))
    scope, longest = max(exceeded, key=lambda item: item[1].reset_ms)
    if longest is not tightest:
        headers = [
            ("RateLimit-Limit", str(longest.limit)),
            ("RateLimit-Remaining", "0"),
            ("RateLimit-Reset", str(longest.reset_seconds)),
        ]
    headers.append(("Retry-After", str(longest.reset_seconds)))
    return Verdict(allowed=False, headers=tuple(headers), exceeded_scope=scope)


def policy_for(route: str, policies: dict[str, RoutePolicy]) -> tuple[str, RoutePolicy]:
    """The policy name (also the Redis bucket) and policy that limit `route`.

    Routes without an entry of their own share the `default` bucket, so the default
    per-user limit is a budget across all of them, not one per route.
    """
    if route in policies:
        return route, policies[route]
    return DEFAULT_POLICY, policies.get(DEFAULT_POLICY, RoutePolicy())
