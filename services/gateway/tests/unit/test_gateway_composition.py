"""GET /api/users/{id}/orders: the merge table, then through the app with each side down."""

from __future__ import annotations

import time
from typing import Any

import pytest
from gateway_testkit import MakeGateway

from shopmesh_gateway.domain.composition import compose

ADA = {"id": "user-1", "email": "ada@example.com", "name": "Ada"}
COPY = {"id": "user-1", "email": "ada@example.com", "name": "Ada (read model)"}
ORDERS = [{"id": "o-1", "status": "CONFIRMED"}]
CACHED = {"user": {"id": "user-1", "name": "Ada (cached)"}, "orders": [{"id": "o-0"}]}


@pytest.mark.parametrize(
    ("user", "history", "cached", "expected"),
    [
        pytest.param(
            ADA,
            {"customer": COPY, "orders": ORDERS},
            None,
            {"user": ADA, "orders": ORDERS, "degraded": False},
            id="both-up",
        ),
        pytest.param(
            None,
            {"customer": COPY, "orders": ORDERS},
            CACHED,
            {"user": COPY, "orders": ORDERS, "degraded": True, "unavailable": ["users"]},
            id="users-down-read-model-copy",
        ),
        pytest.param(
            None,
            {"customer": None, "orders": ORDERS},
            CACHED,
            {
                "user": CACHED["user"],
                "orders": ORDERS,
                "degraded": True,
                "unavailable": ["users"],
                "stale": True,
            },
            id="users-down-cached-user",
        ),
        pytest.param(
            None,
            {"customer": None, "orders": ORDERS},
            None,
            {"user": None, "orders": ORDERS, "degraded": True, "unavailable": ["users"]},
            id="users-down-nothing-cached",
        ),
        pytest.param(
            ADA,
            None,
            None,
            {"user": ADA, "orders": None, "degraded": True, "unavailable": ["order-history"]},
            id="history-down-nothing-cached",
        ),
        pytest.param(
            ADA,
            None,
            CACHED,
            {
                "user": ADA,
                "orders": CACHED["orders"],
                "degraded": True,
                "unavailable": ["order-history"],
                "stale": True,
            },
            id="history-down-cached-orders",
        ),
        pytest.param(
            None,
            None,
            CACHED,
            {
                "user": CACHED["user"],
                "orders": CACHED["orders"],
                "degraded": True,
                "unavailable": ["users", "order-history"],
                "stale": True,
            },
            id="both-down-cached",
        ),
        pytest.param(None, None, None, None, id="both-down-nothing-cached"),
    ],
)
def test_compose(
    user: dict[str, Any] | None,
    history: dict[str, Any] | None,
    cached: dict[str, Any] | None,
    expected: dict[str, Any] | None,
) -> None:
    composed = compose(user=user, history=history, cached=cached)
    assert (None if composed is None else composed.body) == expected
    if composed is not None:
        assert composed.complete is (user is not None and history is not None)


PATH = "/api/users/user-1/orders"


def serve_both(upstream: Any) -> None:
    upstream.answers[("GET", "/users/user-1")] = (200, ADA)
    upstream.answers[("GET", "/users/user-1/orders")] = (200, {"customer": COPY, "orders": ORDERS})


@pytest.mark.parametrize(
    ("down", "cache", "expected"),
    [
        pytest.param(
            "/users/user-1/orders",
            False,
            {"user": ADA, "orders": None, "degraded": True, "unavailable": ["order-history"]},
            id="history-down",
        ),
        pytest.param(
            "/users/user-1/orders",
            True,
            {
                "user": ADA,
                "orders": ORDERS,
                "degraded": True,
                "unavailable": ["order-history"],
                "stale": True,
            },
            id="history-down-last-good",
        ),
    ],
)
async def test_history_down_through_the_app(
    make_gateway: MakeGateway, down: str, cache: bool, expected: dict[str, Any]
) -> None:
    async with make_gateway() as h:
        serve_both(h.upstream)
        first = await h.client.get(PATH, headers=h.auth())
        assert first.json() == {"user": ADA, "orders": ORDERS, "degraded": False}
        if not cache:
            h.cache.values.clear()
        h.upstream.answers[("GET", down)] = (503, {})
        answer = await h.client.get(PATH, headers=h.auth())
        assert answer.status_code == 200
        assert answer.json() == expected


async def test_users_down_through_the_app(make_gateway: MakeGateway) -> None:
    async with make_gateway(users_url="http://127.0.0.1:9") as h:
        serve_both(h.upstream)
        answer = await h.client.get(PATH, headers=h.auth())
        assert answer.status_code == 200
        assert answer.json() == {
            "user": COPY,
            "orders": ORDERS,
            "degraded": True,
            "unavailable": ["users"],
        }
        assert h.cache.values == {}  # a degraded answer never replaces the last good one


async def test_both_down_and_nothing_cached_is_503(make_gateway: MakeGateway) -> None:
    async with make_gateway(
        users_url="http://127.0.0.1:9", order_history_url="http://127.0.0.1:9"
    ) as h:
        answer = await h.client.get(PATH, headers=h.auth())
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"


async def test_unknown_user_is_404_and_unknown_customer_has_no_orders(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as h:
        h.upstream.answers[("GET", "/users/user-1")] = (200, ADA)
        h.upstream.answers[("GET", "/users/user-1/orders")] = (404, {})
        answer = await h.client.get(PATH, headers=h.auth())
        assert answer.json() == {"user": ADA, "orders": [], "degraded": False}
        h.upstream.answers[("GET", "/users/user-1")] = (404, {})
        assert (await h.client.get(PATH, headers=h.auth())).status_code == 404


@pytest.mark.parametrize("path", ["/api/users/user-2/orders", "/api/users/..%2Fadmin/orders"])
async def test_only_the_user_sees_their_page(make_gateway: MakeGateway, path: str) -> None:
    async with make_gateway() as h:
        answer = await h.client.get(path, headers=h.auth())
        assert answer.status_code in (403, 404)
        assert h.upstream.requests == []


async def test_both_sides_are_called_in_parallel(make_gateway: MakeGateway) -> None:
    async with make_gateway() as h:
        serve_both(h.upstream)
        h.upstream.delays = {"/users/user-1": 0.4, "/users/user-1/orders": 0.4}
        started = time.monotonic()
        answer = await h.client.get(PATH, headers=h.auth())
        assert answer.json()["degraded"] is False
        assert time.monotonic() - started < 0.75
        paths = sorted(r.path for r in h.upstream.requests)
        assert paths == ["/users/user-1", "/users/user-1/orders"]
        assert all(r.headers["x-user-id"] == "user-1" for r in h.upstream.requests)
