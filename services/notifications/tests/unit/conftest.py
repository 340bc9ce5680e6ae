"""In-memory fakes of notifications' ports (store and mailer) for the unit tests."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from shopmesh_common.events import Event
from shopmesh_notifications.domain.model import (
    EmailState,
    OutgoingEmail,
    Recipient,
    StoredEmail,
)
from shopmesh_notifications.service_layer.handlers import Notifier


@dataclass
class Row:
    email: OutgoingEmail
    state: EmailState = EmailState.PENDING
    attempts: int = 0
    leased: bool = False
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    sent_at: datetime | None = None
    last_error: str | None = None

    def stored(self) -> StoredEmail:
        return StoredEmail(
            email=self.email,
            state=self.state,
            attempts=self.attempts,
            created_at=self.created_at,
            sent_at=self.sent_at,
            last_error=self.last_error,
        )


class FakeTransaction:
    def __init__(self, store: FakeStore) -> None:
        self.store = store

    async def claim(self, event: Event) -> bool:
        if event.event_id in self.store.inbox:
            self.store.duplicates += 1
            return False
        self.store.inbox.add(event.event_id)
        return True

    async def save_recipient(self, recipient: Recipient, *, seen_at: datetime) -> None:
        self.store.recipients[recipient.user_id] = recipient

    async def get_recipient(self, user_id: str) -> Recipient | None:
        return self.store.recipients.get(user_id)

    async def email_state(self, order_id: str) -> EmailState | None:
        row = self.store.emails.get(order_id)
        return None if row is None else row.state

    async def add_email(self, email: OutgoingEmail) -> bool:
        if email.order_id in self.store.emails:
            return False
        self.store.emails[email.order_id] = Row(email=email)
        return True


class FakeStore:
    """Rolls back on an exception, like Database.transaction()."""

    def __init__(self) -> None:
        self.inbox: set[object] = set()
        self.recipients: dict[str, Recipient] = {}
        self.emails: dict[str, Row] = {}
        self.duplicates = 0

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[FakeTransaction]:
        saved = copy.deepcopy((self.inbox, self.recipients, self.emails))
        try:
            yield FakeTransaction(self)
        except BaseException:
            self.inbox, self.recipients, self.emails = saved
            raise

    async def lease(self, order_id: str, *, lease_seconds: float) -> StoredEmail | None:
        row = self.emails.get(order_id)
        if row is None or row.state is EmailState.SENT or row.leased:
            return None
        row.leased = True
        row.attempts += 1
        return row.stored()

    async def lease_due(
        self, *, older_than_seconds: float, lease_seconds: float, limit: int
    ) -> list[StoredEmail]:
        cutoff = datetime.now(UTC) - timedelta(seconds=older_than_seconds)
        due = []
        for row in self.emails.values():
            if row.state is EmailState.PENDING and not row.leased and row.created_at < cutoff:
                row.leased = True
                row.attempts += 1
                due.append(row.stored())
        return due[:limit]

    async def mark_sent(self, order_id: str) -> None:
        row = self.emails[order_id]
        row.state, row.leased, row.sent_at = EmailState.SENT, False, datetime.now(UTC)

    async def release(self, order_id: str, *, error: str) -> None:
        row = self.emails[order_id]
        row.leased, row.last_error = False, error

    async def list_emails(self, *, order_id: str | None, limit: int) -> list[StoredEmail]:
        rows = [r for r in self.emails.values() if order_id in (None, r.email.order_id)]
        return [r.stored() for r in rows][:limit]


class FakeMailer:
    """Records what it accepted; fails the first `failures` sends."""

    def __init__(self) -> None:
        self.sent: list[OutgoingEmail] = []
        self.failures = 0

    async def send(self, email: OutgoingEmail) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionRefusedError("smtp server down")
        self.sent.append(email)


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


@pytest.fixture
def mailer() -> FakeMailer:
    return FakeMailer()


@pytest.fixture
def notifier(store: FakeStore, mailer: FakeMailer) -> Notifier:
    return Notifier(store=store, mailer=mailer, service="notifications-unit", lease_seconds=60)
