"""The read model's event handler: one event, one unit of work, idempotent by event id.

Used as the consumer's handler by `main.create_app`. The inbox claim and the change to the
view commit together, so a redelivered event is dropped (counted in
shopmesh_duplicate_events_dropped_total) and an event is never half applied. Out-of-order
events are handled by the projection rules (`domain.projection`), not by waiting.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from shopmesh_common.events import Event

from ..domain.model import Applied
from ..domain.projection import ORDER_EVENTS, change_from_event, customer_from_event
from .metrics import EVENTS_APPLIED, LAG
from .ports import ReadModel

log = logging.getLogger(__name__)


class Projector:
    """Keeps customers and order views up to date from events."""

    def __init__(self, *, store: ReadModel, service: str) -> None:
        self._store = store
        self._service = service

    async def handle(self, event: Event) -> None:
        """The consumer's handler: raising makes the broker retry the event."""
        if event.event_type == "user.registered":
            customer = customer_from_event(event)
            async with self._store.transaction() as tx:
                if not await tx.claim(event):
                    return
                await tx.upsert_customer(customer)
        elif event.event_type in ORDER_EVENTS:
            change = change_from_event(event)
            async with self._store.transaction() as tx:
                if not await tx.claim(event):
                    return
                applied = await tx.apply_change(change)
            if applied is Applied.STALE:
                log.info("stale %s for order %s dropped", event.event_type, change.order_id)
        else:
            log.info("ignoring event %s of type %s", event.event_id, event.event_type)
            return
        EVENTS_APPLIED.labels(self._service, event.event_type).inc()
        lag = (datetime.now(UTC) - event.occurred_at).total_seconds()
        LAG.labels(self._service).observe(max(0.0, lag))
