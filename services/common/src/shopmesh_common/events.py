"""The event envelope every service publishes and consumes, and the routing keys.

Events are facts named in the past tense (`order.placed`, `order.confirmed`,
`order.failed`, `user.registered`). `sequence` grows per aggregate so that a consumer which
receives events out of order (retries, two relays during a take-over) can keep the newest.
"""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

EXCHANGE = "shop.events"


def events_exchange() -> str:
    """The exchange events go through: SHOPMESH_EVENTS_EXCHANGE, else `shop.events`.

    Read when a relay or consumer connects. Test runs set their own, so that two shops on
    one broker (parallel test runs, the demo beside a test) never see each other's events.
    """
    return os.environ.get("SHOPMESH_EVENTS_EXCHANGE", EXCHANGE)


class Event(BaseModel):
    """One domain event."""

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    event_type: str
    aggregate_type: str
    aggregate_id: str
    sequence: int = 0
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    data: dict[str, Any] = Field(default_factory=dict)
