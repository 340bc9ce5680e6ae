"""The read model on the real stack: out-of-order and repeated events, and the query route."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shopmesh_common.events import Event

pytestmark = pytest.mark.integration

T0 = datetime.now(UTC) - timedelta(minutes=10)
ITEMS = [{"product_id": "p-1", "quantity": 3, "unit_price_cents": 700}]


def order_event(kind: str, order_id: str, customer_id: str, *, minutes: int = 0) -> Event:
    cases: dict[str, tuple[int, dict[str, Any]]] = {
        "placed": (1, {"items": ITEMS, "total_cents": 2100, "status": "PENDING"}),
        "confirmed": (4, {"total_cents": 2100, "status": "CONFIRMED"}),
        "failed": (4, {"reason": "out_of_stock", "status": "FAILED"}),
        "failed-later": (5, {"reason": "payment_declined", "status": "FAILED"}),
    }
    sequence, data = cases[kind]
    return Event(
        event_type="order.failed" if kind.startswith("failed") else f"order.{kind}",
        aggregate_type="order",
        aggregate_id=order_id,
        sequence=sequence,
        occurred_at=T0 + timedelta(minutes=minutes or sequence),
        data={"order_id": order_id, "customer_id": customer_id, **data},
    )


def user_registered(user_id: str, name: str = "Robin") -> Event:
    return Event(
        event_type="user.registered",
        aggregate_type="user",
        aggregate_id=user_id,
        sequence=1,
        occurred_at=T0,
        data={"user_id": user_id, "email": "robin@example.com", "name": name},
    )


async def orders_of(client: httpx.AsyncClient, user_id: str, **params: Any) -> httpx.Response:
    return await client.get(f"/users/{user_id}/orders", params=params)


@pytest.mark.parametrize(
    ("arrivals", "expected"),
    [
        pytest.param(
            ["confirmed", "placed"],
            {"status": "CONFIRMED", "reason": None, "items": ITEMS, "total_cents": 2100},
            id="confirmed-before-placed",
        ),
        pytest.param(
            ["failed", "placed"],
            {"status": "FAILED", "reason": "out_of_stock", "items": ITEMS},
            id="failed-before-placed",
        ),
        pytest.param(
            ["placed", "confirmed"], {"status": "CONFIRMED", "items": ITEMS}, id="in-order"
        ),
        pytest.param(
            ["failed-later", "confirmed", "placed"],
            {"status": "FAILED", "reason": "payment_declined", "items": ITEMS},
            id="older-terminal-event-dropped",
        ),
        pytest.param(
            ["confirmed"],
            {"status": "CONFIRMED", "items": None, "placed_at": None, "total_cents": 2100},
            id="confirmed-alone",
        ),
    ],
)
async def test_events_out_of_order_give_the_right_view(
    client: httpx.AsyncClient, tools: Any, arrivals: list[str], expected: dict[str, Any]
) -> None:
    user_id, order_id = str(uuid.uuid4()), str(uuid.uuid4())
    await tools.publish_and_wait(*(order_event(kind, order_id, user_id) for kind in arrivals))
    response = await orders_of(client, user_id)
    assert response.status_code == 200
    body = response.json()
    assert body["customer"] is None  # orders are shown before the registration arrives
    [order] = body["orders"]
    assert order["id"] == order_id
    for field, value in expected.items():
        assert order[field] == value, field


async def test_burst_of_events_in_any_order_converges(
    client: httpx.AsyncClient, tools: Any
) -> None:
    user_id = str(uuid.uuid4())
    events = [user_registered(user_id)]
    for n in range(10):
        order_id = f"burst-{n}-{uuid.uuid4().hex[:6]}"
        kinds = ["failed", "placed"] if n % 2 else ["confirmed", "placed"]
        events += [order_event(kind, order_id, user_id, minutes=n + 1) for kind in kinds]
    await tools.publish(*events)  # all at once: the consumer applies them concurrently
    await tools.eventually(lambda: tools.handled(*events))
    body = (await orders_of(client, user_id, limit=100)).json()
    assert body["customer"] == {"id": user_id, "name": "Robin", "email": "robin@example.com"}
    assert len(body["orders"]) == 10
    for order in body["orders"]:
        number = int(order["id"].split("-")[1])
        assert order["status"] == ("FAILED" if number % 2 else "CONFIRMED")
        assert order["items"] == ITEMS


def duplicates_dropped(metrics_text: str, event_type: str) -> float:
    pattern = (
        r'^shopmesh_duplicate_events_dropped_total\{event_type="'
        + re.escape(event_type)
        + r'",service="order-history"\} (\S+)$'
    )
    match = re.search(pattern, metrics_text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_duplicates_are_dropped(client: httpx.AsyncClient, tools: Any) -> None:
    user_id, order_id = str(uuid.uuid4()), str(uuid.uuid4())
    placed = order_event("placed", order_id, user_id)
    before = duplicates_dropped((await client.get("/metrics")).text, "order.placed")
    await tools.publish_and_wait(placed)
    first = (await orders_of(client, user_id)).json()["orders"]
    await tools.publish(placed, placed)

    async def dropped_twice() -> bool:
        text = (await client.get("/metrics")).text
        return duplicates_dropped(text, "order.placed") >= before + 2

    await tools.eventually(dropped_twice)
    assert (await orders_of(client, user_id)).json()["orders"] == first
    metrics = (await client.get("/metrics")).text
    assert (
        'shopmesh_read_model_events_total{event_type="order.placed",service="order-history"}'
        in metrics
    )
    assert 'shopmesh_read_model_lag_seconds_count{service="order-history"}' in metrics


async def test_route_shape_filters_and_order(client: httpx.AsyncClient, tools: Any) -> None:
    user_id = str(uuid.uuid4())
    older, newer = str(uuid.uuid4()), str(uuid.uuid4())
    await tools.publish_and_wait(
        user_registered(user_id),
        order_event("placed", older, user_id, minutes=1),
        order_event("failed", older, user_id, minutes=2),
        order_event("placed", newer, user_id, minutes=3),
    )
    body = (await orders_of(client, user_id)).json()
    assert set(body) == {"customer", "orders"}
    assert body["customer"] == {"id": user_id, "name": "Robin", "email": "robin@example.com"}
    assert [o["id"] for o in body["orders"]] == [newer, older]
    assert set(body["orders"][0]) == {
        "id",
        "status",
        "reason",
        "items",
        "total_cents",
        "placed_at",
        "updated_at",
    }
    assert body["orders"][0]["status"] == "PENDING"
    failed = (await orders_of(client, user_id, status="failed")).json()["orders"]
    assert [(o["id"], o["reason"]) for o in failed] == [(older, "out_of_stock")]
    limited = (await orders_of(client, user_id, limit=1)).json()["orders"]
    assert [o["id"] for o in limited] == [newer]


async def test_customer_without_orders(client: httpx.AsyncClient, tools: Any) -> None:
    user_id = str(uuid.uuid4())
    await tools.publish_and_wait(user_registered(user_id, name="Solo"))
    response = await orders_of(client, user_id)
    assert response.status_code == 200
    assert response.json() == {
        "customer": {"id": user_id, "name": "Solo", "email": "robin@example.com"},
        "orders": [],
    }


@pytest.mark.parametrize(
    ("params", "status", "problem_type"),
    [
        pytest.param({}, 404, "urn:shopmesh:customer-not-found", id="unknown-user"),
        pytest.param({"limit": 0}, 422, "urn:shopmesh:validation-error", id="limit-too-small"),
        pytest.param({"limit": 101}, 422, "urn:shopmesh:validation-error", id="limit-too-big"),
        pytest.param({"status": "no such!"}, 422, "urn:shopmesh:validation-error", id="bad-status"),
    ],
)
async def test_problems(
    client: httpx.AsyncClient, params: dict[str, Any], status: int, problem_type: str
) -> None:
    response = await orders_of(client, f"nobody-{uuid.uuid4().hex[:6]}", **params)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == problem_type
    assert response.json()["status"] == status
