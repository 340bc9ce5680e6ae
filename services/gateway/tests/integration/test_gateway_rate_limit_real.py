"""Rate limits on the real Redis: two gateway processes sharing it admit exactly the limit
between them, then answer 429 with Retry-After and RateLimit-* headers; with Redis down a
gateway lets traffic through by default (and counts it), or refuses it when told to."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from typing import Any

import pytest
from shop_processes import free_port

pytestmark = pytest.mark.integration

LIMIT = 20
REQUESTS = 60


def limited(prefix: str) -> dict[str, str]:
    policy = {
        "users.orders": {"per_user": {"limit": LIMIT, "window_seconds": 60}},
        "default": {},
    }
    return {
        "SHOPMESH_RATE_LIMITS": json.dumps(policy),
        "SHOPMESH_RATE_LIMIT_KEY_PREFIX": prefix,
    }


async def test_two_gateways_share_one_limit(gateway_shop: Any) -> None:
    prefix = f"shopmesh:gateway:rl:test-{uuid.uuid4().hex[:8]}"
    gateway_shop.start_gateway("gateway-a", **limited(prefix))
    gateway_shop.start_gateway("gateway-b", **limited(prefix))
    async with (
        gateway_shop.client() as gw,
        gateway_shop.client("gateway-a") as a,
        gateway_shop.client("gateway-b") as b,
    ):
        user_id, token = await gateway_shop.sign_up(gw)
        headers = {"Authorization": f"Bearer {token}"}
        path = f"/api/users/{user_id}/orders"
        answers = await asyncio.gather(
            *((a if n % 2 else b).get(path, headers=headers) for n in range(REQUESTS))
        )
    statuses = [answer.status_code for answer in answers]
    allowed = statuses.count(200)
    assert allowed == LIMIT, statuses
    assert statuses.count(429) == REQUESTS - allowed
    for answer in answers:
        assert answer.headers["ratelimit-limit"] == str(LIMIT)
        assert 1 <= int(answer.headers["ratelimit-reset"]) <= 60
        if answer.status_code == 429:
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.headers["ratelimit-remaining"] == "0"
            assert answer.headers["retry-after"] == answer.headers["ratelimit-reset"]
    remaining = sorted(
        int(a.headers["ratelimit-remaining"]) for a in answers if a.status_code == 200
    )
    assert remaining == list(range(LIMIT - allowed, LIMIT))  # every count seen exactly once


def errors_counted(metrics: str, action: str) -> float:
    found = re.search(
        r"^shopmesh_gateway_rate_limit_errors_total"
        rf'\{{action="{action}",service="gateway"\}} (\S+)$',
        metrics,
        re.M,
    )
    return 0.0 if found is None else float(found.group(1))


@pytest.mark.parametrize(("setting", "status"), [("allow", 200), ("deny", 503)])
async def test_redis_down(gateway_shop: Any, setting: str, status: int) -> None:
    name = f"gateway-no-redis-{setting}"
    closed = free_port()  # nothing listens there
    env = {
        "SHOPMESH_REDIS_URL": f"redis://127.0.0.1:{closed}/0",
        "SHOPMESH_RATE_LIMIT_ON_REDIS_ERROR": setting,
    }
    proc = gateway_shop.start_gateway(name, **env)
    try:
        async with gateway_shop.client() as gw, gateway_shop.client(name) as down:
            user_id, token = await gateway_shop.sign_up(gw)
            headers = {"Authorization": f"Bearer {token}"}
            answers = [
                await down.get(f"/api/users/{user_id}/orders", headers=headers) for _ in range(5)
            ]
            assert {a.status_code for a in answers} == {status}
            assert all("ratelimit-limit" not in a.headers for a in answers)
            if status == 503:
                assert answers[0].json()["type"] == "urn:shopmesh:rate-limit-unavailable"
            metrics = (await down.get("/metrics")).text
            assert errors_counted(metrics, setting) >= 5
    finally:
        proc.stop()
