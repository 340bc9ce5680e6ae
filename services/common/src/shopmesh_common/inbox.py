"""Idempotent consumers: an inbox table keyed by (consumer, event id).

A consumer calls `claim(conn, service, event)` inside the transaction that applies the
event's effect. The first delivery inserts the row and returns True; a redelivery (broker
retry, outbox re-publish after a relay crash) finds the row and returns False, so the
caller skips the effect. Because the row and the effect commit together, there is no
window in which the effect happened but the event is not marked, or the reverse.
"""

from __future__ import annotations

import asyncpg
from prometheus_client import Counter

from .events import Event

DUPLICATES_DROPPED = Counter(
    "shopmesh_duplicate_events_dropped_total",
    "Events received again and ignored by an idempotent consumer",
    ["service", "event_type"],
)


async def claim(conn: asyncpg.Connection, service: str, event: Event) -> bool:
    """True when `event` is new for `service` (and now recorded), False for a duplicate.

    `service` is the consuming service's name: the inbox row's `consumer` column and the
    `service` label of the duplicates metric.
    """
    inserted = await conn.fetchval(
        """INSERT INTO inbox (consumer, event_id, event_type) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING true""",
        service,
        event.event_id,
        event.event_type,
    )
    if not inserted:
        DUPLICATES_DROPPED.labels(service, event.event_type).inc()
    return bool(inserted)
