"""One email per order on the real stack: PostgreSQL, RabbitMQ and a real SMTP server.

Events are published to shop.events the way the outbox relays publish them; the app
consumes them from its own random queue and sends to the test's recording SMTP server.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import httpx
import pytest
from prometheus_client import REGISTRY

from shopmesh_common.events import Event
from shopmesh_notifications.settings import Settings

pytestmark = pytest.mark.integration


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def user_registered(user_id: str) -> Event:
    return Event(
        event_type="user.registered",
        aggregate_type="user",
        aggregate_id=user_id,
        sequence=1,
        data={"user_id": user_id, "email": f"{user_id[:8]}@example.com", "name": "Dana"},
    )


def order_event(event_type: str, order_id: str, customer_id: str, **extra: Any) -> Event:
    return Event(
        event_type=event_type,
        aggregate_type="order",
        aggregate_id=order_id,
        sequence=5,
        data={"order_id": order_id, "customer_id": customer_id, **extra},
    )


def ids() -> tuple[str, str]:
    return str(uuid.uuid4()), str(uuid.uuid4())


async def emails_of(client: httpx.AsyncClient, order_id: str) -> list[dict[str, Any]]:
    response = await client.get("/emails", params={"order_id": order_id})
    assert response.status_code == 200
    rows: list[dict[str, Any]] = response.json()
    return rows


async def test_same_event_delivered_three_times_sends_one_email(
    client: httpx.AsyncClient, smtp: Any, tools: Any
) -> None:
    user_id, order_id = ids()
    dropped = {"service": "notifications", "event_type": "order.confirmed"}
    dropped_before = sample("shopmesh_duplicate_events_dropped_total", **dropped)
    await tools.publish(user_registered(user_id))
    confirmed = order_event("order.confirmed", order_id, user_id, total_cents=4200)
    for _ in range(3):
        await tools.publish(confirmed)

    async def duplicates_seen() -> bool:
        return sample("shopmesh_duplicate_events_dropped_total", **dropped) - dropped_before >= 2

    await tools.eventually(duplicates_seen)
    await asyncio.sleep(0.3)  # room for a wrong second send to show up
    [message] = smtp.for_order(order_id)
    assert message["Message-ID"] == f"<order-{order_id}@shopmesh.local>"
    assert message["To"] == f"Dana <{user_id[:8]}@example.com>"
    assert "42.00" in message.get_content()
    [row] = await emails_of(client, order_id)
    assert (row["kind"], row["state"], row["attempts"]) == ("confirmed", "sent", 1)
    assert row["sent_at"] is not None


async def test_confirmed_and_failed_for_one_order_send_one_email(
    client: httpx.AsyncClient, smtp: Any, tools: Any
) -> None:
    user_id, order_id = ids()
    await tools.publish(user_registered(user_id))
    await tools.publish(order_event("order.confirmed", order_id, user_id, total_cents=100))
    await tools.publish(order_event("order.failed", order_id, user_id, reason="payment_declined"))

    async def both_handled() -> bool:
        emails = await emails_of(client, order_id)
        return bool(emails) and emails[0]["state"] == "sent"

    await tools.eventually(both_handled)
    await asyncio.sleep(0.5)
    assert len(smtp.for_order(order_id)) == 1
    [row] = await emails_of(client, order_id)
    assert row["kind"] in ("confirmed", "failed")


async def test_order_before_user_is_retried_and_sent_once_the_user_arrives(
    client: httpx.AsyncClient, smtp: Any, tools: Any, settings: Settings
) -> None:
    user_id, order_id = ids()
    retries = {"service": "notifications", "queue": settings.queue, "outcome": "retry"}
    await tools.publish(order_event("order.failed", order_id, user_id, reason="out_of_stock"))

    async def retried() -> bool:
        return sample("shopmesh_events_consumed_total", **retries) >= 1

    await tools.eventually(retried)
    assert smtp.for_order(order_id) == []
    assert await emails_of(client, order_id) == []
    await tools.publish(user_registered(user_id))

    async def sent() -> bool:
        return len(smtp.for_order(order_id)) == 1

    await tools.eventually(sent)
    [message] = smtp.for_order(order_id)
    assert "could not be completed" in message["Subject"]
    [row] = await emails_of(client, order_id)
    assert row["state"] == "sent"


async def test_smtp_refusal_is_retried_and_still_one_email(
    client: httpx.AsyncClient, smtp: Any, tools: Any
) -> None:
    user_id, order_id = ids()
    failed = {"service": "notifications", "kind": "confirmed", "outcome": "failed"}
    failed_before = sample("shopmesh_notifications_emails_total", **failed)
    smtp.refuse_next = 1
    await tools.publish(user_registered(user_id))
    await tools.publish(order_event("order.confirmed", order_id, user_id))

    async def sent() -> bool:
        emails = await emails_of(client, order_id)
        return bool(emails) and emails[0]["state"] == "sent"

    await tools.eventually(sent)
    assert len(smtp.for_order(order_id)) == 1
    [row] = await emails_of(client, order_id)
    assert row["attempts"] == 2
    assert sample("shopmesh_notifications_emails_total", **failed) == failed_before + 1


async def test_sweeper_sends_an_email_left_pending_by_a_crash(
    client: httpx.AsyncClient, smtp: Any, tools: Any, settings: Settings
) -> None:
    order_id = str(uuid.uuid4())
    # What a crash between the commit and the SMTP send leaves behind.
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            """INSERT INTO emails (order_id, kind, customer_id, recipient, recipient_name,
                                   subject, body, message_id, state, created_at)
               VALUES ($1, 'confirmed', 'u', 'eve@example.com', 'Eve', 'Your order', 'Hi',
                       $2, 'pending', now() - interval '1 hour')""",
            order_id,
            f"<order-{order_id}@shopmesh.local>",
        )
    finally:
        await conn.close()

    async def sent() -> bool:
        return len(smtp.for_order(order_id)) == 1

    await tools.eventually(sent)
    [row] = await emails_of(client, order_id)
    assert (row["state"], row["attempts"]) == ("sent", 1)


async def test_emails_route_validates_its_query(client: httpx.AsyncClient) -> None:
    response = await client.get("/emails", params={"limit": 0})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
