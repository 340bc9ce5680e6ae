"""Event handlers and email delivery: exactly one email per order, as far as SMTP allows.

Used by `main.create_app` (the consumer's handler and the sweeper Background task).

How one email per order is kept:
1. One transaction claims the event in the inbox and inserts the order's `emails` row
   (`pending`, keyed by order id, ON CONFLICT DO NOTHING). A redelivered event, or the second
   terminal event of the same order (`order.failed` after `order.confirmed`), finds the
   inbox row or the email row and sends nothing new.
2. After the commit, the sender takes a short lease on the row (so the sweeper and a
   redelivery cannot send the same row at the same time), sends it over SMTP with the
   stable Message-ID `<order-{order_id}@shopmesh.local>` and header X-ShopMesh-Order-Id,
   then marks it `sent`.
3. A failed send leaves the row `pending` and raises, so the broker retries the event
   (the retry finds the pending row and sends it). The sweeper re-sends rows still
   `pending` after `sweep_after_seconds`: that covers a crash between the commit in (1)
   and the send in (2), and events that ran out of broker retries.

Where a duplicate can still happen: the process dies (or loses its database connection)
after the SMTP server replied 250 to DATA and before `UPDATE emails SET state = 'sent'`
commits; also when the connection drops after the server accepted the message but before
its 250 reply reached us. The row is still `pending`, so it is sent a second time, with the
same Message-ID. That is the best SMTP allows: the server's reply is its only
acknowledgement, it is not part of our database transaction (there is no two-phase commit
with an SMTP server), and SMTP has no way to ask "did you already accept message X?". The
alternative, marking `sent` before sending, would lose the email instead of repeating it;
a repeated email with the same Message-ID is the safer failure, and receivers that
deduplicate by Message-ID drop it.
"""

from __future__ import annotations

import asyncio
import logging

from shopmesh_common.events import Event

from ..domain.emails import Action, compose_email, decide
from ..domain.model import KIND_BY_EVENT, OrderFinished, Recipient, StoredEmail, UserRegistered
from .metrics import EMAILS
from .ports import EmailStore, Mailer

log = logging.getLogger(__name__)


class RecipientUnknownError(Exception):
    """The order's customer has not been seen in `user.registered` yet (retry later)."""


class EmailNotSentError(Exception):
    """The SMTP server did not accept the email; it stays pending."""


class Notifier:
    """Handles the events notifications consumes and delivers the resulting emails."""

    def __init__(
        self, *, store: EmailStore, mailer: Mailer, service: str, lease_seconds: float
    ) -> None:
        self._store = store
        self._mailer = mailer
        self._service = service
        self._lease_seconds = lease_seconds

    async def handle(self, event: Event) -> None:
        """The consumer's handler: raising makes the broker retry the event."""
        if event.event_type == "user.registered":
            await self._on_user_registered(event)
        elif event.event_type in KIND_BY_EVENT:
            await self._on_order_finished(event)
        else:
            log.info("ignoring event %s of type %s", event.event_id, event.event_type)

    async def _on_user_registered(self, event: Event) -> None:
        data = UserRegistered.model_validate(event.data)
        async with self._store.transaction() as tx:
            if await tx.claim(event):
                recipient = Recipient(user_id=data.user_id, email=data.email, name=data.name)
                await tx.save_recipient(recipient, seen_at=event.occurred_at)

    async def _on_order_finished(self, event: Event) -> None:
        kind = KIND_BY_EVENT[event.event_type]
        order = OrderFinished.model_validate(event.data)
        async with self._store.transaction() as tx:
            first = await tx.claim(event)
            recipient = await tx.get_recipient(order.customer_id)
            action = decide(
                first_delivery=first,
                existing=await tx.email_state(order.order_id),
                recipient_known=recipient is not None,
            )
            if action is Action.WAIT_FOR_RECIPIENT:
                # Raising rolls the inbox claim back, so the broker's retry is a first
                # delivery again once the user's event has arrived.
                raise RecipientUnknownError(
                    f"no recipient {order.customer_id!r} yet for order {order.order_id}"
                )
            if action is Action.CREATE_AND_SEND:
                assert recipient is not None
                created = await tx.add_email(compose_email(kind, order, recipient))
                if not created:  # a concurrent terminal event of the order won the insert
                    action = Action.SEND_PENDING
        if action is not Action.IGNORE:
            await self.deliver(order.order_id)

    async def deliver(self, order_id: str) -> bool:
        """Send the order's pending email if nobody else is; True when this call sent it."""
        stored = await self._store.lease(order_id, lease_seconds=self._lease_seconds)
        if stored is None:
            return False  # already sent, or another sender holds the lease
        await self._send(stored)
        return True

    async def sweep(self, *, older_than_seconds: float, limit: int = 50) -> int:
        """Re-send pending emails older than `older_than_seconds`; returns how many were sent."""
        due = await self._store.lease_due(
            older_than_seconds=older_than_seconds, lease_seconds=self._lease_seconds, limit=limit
        )
        sent = 0
        for stored in due:
            try:
                await self._send(stored)
            except EmailNotSentError as exc:
                log.warning("sweeper: %s", exc)
            else:
                sent += 1
        return sent

    async def _send(self, stored: StoredEmail) -> None:
        email = stored.email
        try:
            await self._mailer.send(email)
        except Exception as exc:
            EMAILS.labels(self._service, email.kind.value, "failed").inc()
            await self._store.release(email.order_id, error=f"{type(exc).__name__}: {exc}"[:500])
            raise EmailNotSentError(f"email for order {email.order_id} not sent: {exc}") from exc
        await self._store.mark_sent(email.order_id)
        EMAILS.labels(self._service, email.kind.value, "sent").inc()
        log.info("sent %s email for order %s", email.kind.value, email.order_id)


async def run_sweeper(
    notifier: Notifier, *, interval_seconds: float, older_than_seconds: float
) -> None:
    """Re-send stale pending emails every `interval_seconds`, forever (a Background task)."""
    while True:
        try:
            await notifier.sweep(older_than_seconds=older_than_seconds)
        except Exception as exc:  # database down: try again next round, do not crash-loop
            log.warning("email sweeper round failed: %s", exc)
        await asyncio.sleep(interval_seconds)
