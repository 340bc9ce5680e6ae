"""Rate limits: the header arithmetic, policy lookup and settings, what happens when Redis
fails, and limits through the app (429 with its headers, nothing forwarded)."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pytest
from gateway_testkit import MakeGateway

from shopmesh_gateway.domain.rate_limits import (
    DEFAULT_POLICY,
    Count,
    RateLimit,
    RoutePolicy,
    judge,
    policy_for,
)
from shopmesh_gateway.service_layer.rate_limiting import UNAVAILABLE, RateLimiting
from shopmesh_gateway.settings import Settings


@pytest.mark.parametrize(
    ("counts", "allowed", "headers"),
    [
        pytest.param([], True, {}, id="no-policy"),
        pytest.param(
            [("user", Count(limit=10, count=1, reset_ms=60_000))],
            True,
            {"RateLimit-Limit": "10", "RateLimit-Remaining": "9", "RateLimit-Reset": "60"},
            id="first-request",
        ),
        pytest.param(
            [("user", Count(limit=10, count=10, reset_ms=1_001))],
            True,
            {"RateLimit-Limit": "10", "RateLimit-Remaining": "0", "RateLimit-Reset": "2"},
            id="last-allowed-reset-rounds-up",
        ),
        pytest.param(
            [("user", Count(limit=10, count=11, reset_ms=30_000))],
            False,
            {
                "RateLimit-Limit": "10",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": "30",
                "Retry-After": "30",
            },
            id="over-the-limit",
        ),
        pytest.param(
            [
                ("user", Count(limit=100, count=5, reset_ms=60_000)),
                ("ip", Count(limit=10, count=8, reset_ms=20_000)),
            ],
            True,
            {"RateLimit-Limit": "10", "RateLimit-Remaining": "2", "RateLimit-Reset": "20"},
            id="tightest-policy-is-shown",
        ),
        pytest.param(
            [
                ("user", Count(limit=5, count=6, reset_ms=10_000)),
                ("ip", Count(limit=10, count=11, reset_ms=50_000)),
            ],
            False,
            {
                "RateLimit-Limit": "10",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": "50",
                "Retry-After": "50",
            },
            id="both-exceeded-longest-wait-wins",
        ),
        pytest.param(
            [("user", Count(limit=5, count=6, reset_ms=0))],
            False,
            {
                "RateLimit-Limit": "5",
                "RateLimit-Remaining": "0",
                "RateLimit-Reset": "1",
                "Retry-After": "1",
            },
            id="never-retry-after-zero",
        ),
    ],
)
def test_judge(counts: list[tuple[str, Count]], allowed: bool, headers: dict[str, str]) -> None:
    verdict = judge(counts)
    assert verdict.allowed is allowed
    assert dict(verdict.headers) == headers


def test_the_exceeded_scope_is_reported() -> None:
    verdict = judge(
        [
            ("user", Count(limit=100, count=1, reset_ms=60_000)),
            ("ip", Count(limit=1, count=2, reset_ms=60_000)),
        ]
    )
    assert verdict.exceeded_scope == "ip"


@pytest.mark.parametrize(
    ("route", "bucket"),
    [
        ("auth.login", "auth.login"),
        ("orders.create", DEFAULT_POLICY),
        ("products.list", DEFAULT_POLICY),
    ],
)
def test_routes_without_a_policy_share_the_default_bucket(route: str, bucket: str) -> None:
    assert policy_for(route, Settings().rate_limits)[0] == bucket


def test_configured_policies_merge_over_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    given = {"orders.create": {"per_user": {"limit": 5, "window_seconds": 10}}}
    monkeypatch.setenv("SHOPMESH_RATE_LIMITS", json.dumps(given))
    policies = Settings().rate_limits
    assert policies["orders.create"] == RoutePolicy(per_user=RateLimit(limit=5, window_seconds=10))
    assert DEFAULT_POLICY in policies
    assert "auth.login" in policies


class BrokenCounter:
    def __init__(self) -> None:
        self.calls = 0

    async def hit(
        self, keys: Sequence[str], limits: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        self.calls += 1
        raise ConnectionError("Redis is down")


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(("on_error", "allowed"), [("allow", True), ("deny", False)])
async def test_redis_down_follows_the_setting(on_error: str, allowed: bool) -> None:
    counter, clock = BrokenCounter(), Clock()
    limiting = RateLimiting(
        counter,
        policies=Settings().rate_limits,
        on_error=on_error,  # type: ignore[arg-type]
        retry_seconds=1.0,
        service="gateway-test",
        clock=clock,
    )
    verdicts = [await limiting.check("orders.create", subject="u", ip="1.2.3.4") for _ in range(5)]
    assert {v.allowed for v in verdicts} == {allowed}
    if not allowed:
        assert verdicts[0].exceeded_scope == UNAVAILABLE
    assert counter.calls == 1  # Redis is left alone for retry_seconds
    clock.now = 1.5
    await limiting.check("orders.create", subject="u", ip="1.2.3.4")
    assert counter.calls == 2


async def test_the_limit_through_the_app(make_gateway: MakeGateway) -> None:
    policy = {"products.list": {"per_ip": {"limit": 3, "window_seconds": 60}}}
    async with make_gateway(rate_limits=policy) as h:
        answers = [await h.client.get("/api/products") for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0", "0"]
        refused = answers[3]
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.headers["ratelimit-limit"] == "3"
        assert 0 < int(refused.headers["retry-after"]) <= 60
        assert refused.headers["retry-after"] == refused.headers["ratelimit-reset"]
        assert len(h.upstream.requests) == 3  # refused requests reach no service


async def test_users_are_limited_apart_from_each_other(make_gateway: MakeGateway) -> None:
    policy = {"default": {"per_user": {"limit": 2, "window_seconds": 60}}}
    async with make_gateway(rate_limits=policy) as h:
        ada, bob = h.keys.token(sub="ada"), h.keys.token(sub="bob")
        statuses = []
        for token, user in [(ada, "ada"), (ada, "ada"), (ada, "ada"), (bob, "bob")]:
            answer = await h.client.get(f"/api/users/{user}/orders", headers=h.auth(token))
            statuses.append(answer.status_code)
        assert statuses == [200, 200, 429, 200]


async def test_validation_errors_carry_the_rate_limit_headers(make_gateway: MakeGateway) -> None:
    async with make_gateway() as h:
        answer = await h.client.post(
            "/api/auth/login", json={"email": "nope"}, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 422
        assert answer.headers["ratelimit-limit"] == "20"
