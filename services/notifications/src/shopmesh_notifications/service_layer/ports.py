"""What the service layer needs from storage and mail, as Protocols.

`adapters.repository.PostgresEmailStore` and `adapters.mailer.SmtpMailer` implement them in
production; the unit tests use in-memory fakes. Keeping the ports this small is what lets
the decision logic be tested without PostgreSQL or an SMTP server.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from shopmesh_common.events import Event

from ..domain.model import EmailState, OutgoingEmail, Recipient, StoredEmail


class EventTransaction(Protocol):
    """The statements one event's unit of work runs (all commit together)."""

    async def claim(self, event: Event) -> bool:
        """True the first time this consumer sees `event` (inbox)."""
        ...

    async def save_recipient(self, recipient: Recipient, *, seen_at: datetime) -> None:
        """Insert or update a recipient."""
        ...

    async def get_recipient(self, user_id: str) -> Recipient | None:
        """The recipient with `user_id`, if `user.registered` arrived."""
        ...

    async def email_state(self, order_id: str) -> EmailState | None:
        """The state of the order's email row, None when there is none."""
        ...

    async def add_email(self, email: OutgoingEmail) -> bool:
        """Record `email` as pending; False when the order already has an email."""
        ...


class EmailStore(Protocol):
    """Storage of recipients and emails."""

    def transaction(self) -> AbstractAsyncContextManager[EventTransaction]:
        """A unit of work: commits when the block ends, rolls back on an exception."""
        ...

    async def lease(self, order_id: str, *, lease_seconds: float) -> StoredEmail | None:
        """Take the order's pending email for sending (None: sent, absent or leased)."""
        ...

    async def lease_due(
        self, *, older_than_seconds: float, lease_seconds: float, limit: int
    ) -> list[StoredEmail]:
        """Take pending, unleased emails created more than `older_than_seconds` ago."""
        ...

    async def mark_sent(self, order_id: str) -> None:
        """Record that the SMTP server accepted the order's email."""
        ...

    async def release(self, order_id: str, *, error: str) -> None:
        """Give a leased email back (still pending) after a failed attempt."""
        ...

    async def list_emails(self, *, order_id: str | None, limit: int) -> list[StoredEmail]:
        """Emails, newest first, optionally of one order."""
        ...


class Mailer(Protocol):
    """Hands an email to an SMTP server."""

    async def send(self, email: OutgoingEmail) -> None:
        """Return once the server accepted the message; raise otherwise."""
        ...
