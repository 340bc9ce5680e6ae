"""Poison and stuck messages end in `<queue>.dead` and come back through the admin routes."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from shopmesh_common.events import Event
from shopmesh_notifications.settings import Settings

pytestmark = pytest.mark.integration


async def dead_letters(client: httpx.AsyncClient, queue: str) -> dict[str, dict[str, Any]]:
    response = await client.get(f"/admin/dead-letters/{queue}")
    assert response.status_code == 200
    return {letter["message_id"]: letter for letter in response.json()}


async def test_poison_message_is_parked_after_the_retries(
    client: httpx.AsyncClient, tools: Any, settings: Settings
) -> None:
    message_id = f"poison-{uuid.uuid4().hex[:8]}"
    await tools.publish_raw(
        b'{"not": "an event"}', routing_key="order.confirmed", message_id=message_id
    )

    async def parked() -> bool:
        return message_id in await dead_letters(client, settings.queue)

    await tools.eventually(parked)
    letter = (await dead_letters(client, settings.queue))[message_id]
    assert letter["attempts"] == len(settings.retry_delays) + 1
    assert "ValidationError" in letter["last_error"]
    assert letter["body"] == {"not": "an event"}
    shown = await client.get(f"/admin/dead-letters/{settings.queue}/{message_id}")
    assert shown.status_code == 200
    assert shown.json()["message_id"] == message_id


async def test_fixed_dead_letter_is_replayed_and_then_succeeds(
    client: httpx.AsyncClient, smtp: Any, tools: Any, settings: Settings
) -> None:
    user_id, order_id = str(uuid.uuid4()), str(uuid.uuid4())
    stuck = Event(
        event_type="order.confirmed",
        aggregate_type="order",
        aggregate_id=order_id,
        sequence=3,
        data={"order_id": order_id, "customer_id": user_id, "total_cents": 1},
    )
    await tools.publish(stuck)  # its customer is unknown: every retry fails

    async def parked() -> bool:
        return str(stuck.event_id) in await dead_letters(client, settings.queue)

    await tools.eventually(parked)
    assert smtp.for_order(order_id) == []
    # The cause is fixed (the customer's registration arrives), then the letter is replayed.
    await tools.publish(
        Event(
            event_type="user.registered",
            aggregate_type="user",
            aggregate_id=user_id,
            data={"user_id": user_id, "email": "late@example.com", "name": "Late"},
        )
    )
    replay = await client.post(
        f"/admin/dead-letters/{settings.queue}/replay", params={"message_id": str(stuck.event_id)}
    )
    assert replay.status_code == 200
    assert replay.json() == {"replayed": [str(stuck.event_id)]}

    async def sent() -> bool:
        return len(smtp.for_order(order_id)) == 1

    await tools.eventually(sent)
    assert str(stuck.event_id) not in await dead_letters(client, settings.queue)


async def test_admin_routes_know_only_their_queue(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/dead-letters/somebody-elses-queue")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    missing = await client.post(
        "/admin/dead-letters/notifications-nope/replay", params={"message_id": "x"}
    )
    assert missing.status_code == 404
