"""PostgreSQL storage of recipients and emails (asyncpg), behind `service_layer.ports`.

`PostgresEmailStore.transaction()` is the unit of work of one event: the inbox claim, the
recipient upsert and the email insert commit together. Leases are short `locked_until`
timestamps on the email row rather than row locks, because the SMTP conversation happens
outside any transaction (holding a transaction open across network I/O would pin a
connection and still not make the send atomic).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime

import asyncpg

from shopmesh_common import inbox
from shopmesh_common.db import Database
from shopmesh_common.events import Event

from ..domain.model import EmailKind, EmailState, OutgoingEmail, Recipient, StoredEmail

_EMAIL_COLUMNS = """order_id, kind, customer_id, recipient, recipient_name, subject, body,
    message_id, state, attempts, created_at, sent_at, last_error"""


def _stored(row: asyncpg.Record) -> StoredEmail:
    return StoredEmail(
        email=OutgoingEmail(
            order_id=row["order_id"],
            kind=EmailKind(row["kind"]),
            customer_id=row["customer_id"],
            recipient=row["recipient"],
            recipient_name=row["recipient_name"],
            subject=row["subject"],
            body=row["body"],
            message_id=row["message_id"],
        ),
        state=EmailState(row["state"]),
        attempts=row["attempts"],
        created_at=row["created_at"],
        sent_at=row["sent_at"],
        last_error=row["last_error"],
    )


class PostgresEventTransaction:
    """The statements of one event's unit of work, on one connection in a transaction."""

    def __init__(self, conn: asyncpg.Connection, service: str) -> None:
        self._conn = conn
        self._service = service

    async def claim(self, event: Event) -> bool:
        """True the first time this consumer sees `event` (inbox)."""
        return await inbox.claim(self._conn, self._service, event)

    async def save_recipient(self, recipient: Recipient, *, seen_at: datetime) -> None:
        """Insert or update a recipient (an older event never overwrites a newer one)."""
        await self._conn.execute(
            """INSERT INTO recipients (user_id, email, name, updated_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (user_id) DO UPDATE
               SET email = EXCLUDED.email, name = EXCLUDED.name, updated_at = EXCLUDED.updated_at
               WHERE recipients.updated_at <= EXCLUDED.updated_at""",
            recipient.user_id,
            recipient.email,
            recipient.name,
            seen_at,
        )

    async def get_recipient(self, user_id: str) -> Recipient | None:
        """The recipient with `user_id`, if known."""
        row = await self._conn.fetchrow(
            "SELECT user_id, email, name FROM recipients WHERE user_id = $1", user_id
        )
        if row is None:
            return None
        return Recipient(user_id=row["user_id"], email=row["email"], name=row["name"])

    async def email_state(self, order_id: str) -> EmailState | None:
        """The state of the order's email, if it has one."""
        state = await self._conn.fetchval("SELECT state FROM emails WHERE order_id = $1", order_id)
        return None if state is None else EmailState(state)

    async def add_email(self, email: OutgoingEmail) -> bool:
        """Record `email` as pending; False when the order already has an email."""
        inserted = await self._conn.fetchval(
            """INSERT INTO emails (order_id, kind, customer_id, recipient, recipient_name,
                                   subject, body, message_id, state)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending')
               ON CONFLICT (order_id) DO NOTHING RETURNING true""",
            email.order_id,
            email.kind.value,
            email.customer_id,
            email.recipient,
            email.recipient_name,
            email.subject,
            email.body,
            email.message_id,
        )
        return bool(inserted)


class PostgresEmailStore:
    """`service_layer.ports.EmailStore` on the service's database."""

    def __init__(self, db: Database, *, service: str) -> None:
        self._db = db
        self._service = service

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresEventTransaction]:
        """One event's unit of work."""
        async with self._db.transaction() as conn:
            yield PostgresEventTransaction(conn, self._service)

    async def lease(self, order_id: str, *, lease_seconds: float) -> StoredEmail | None:
        """Take the order's pending, unleased email for sending."""
        row = await self._db.fetchrow(
            f"""UPDATE emails SET attempts = attempts + 1,
                       locked_until = clock_timestamp() + make_interval(secs => $2)
                WHERE order_id = $1 AND state = 'pending'
                  AND (locked_until IS NULL OR locked_until < clock_timestamp())
                RETURNING {_EMAIL_COLUMNS}""",
            order_id,
            lease_seconds,
        )
        return None if row is None else _stored(row)

    async def lease_due(
        self, *, older_than_seconds: float, lease_seconds: float, limit: int
    ) -> list[StoredEmail]:
        """Take up to `limit` stale pending emails, oldest first."""
        rows = await self._db.fetch(
            f"""UPDATE emails SET attempts = attempts + 1,
                       locked_until = clock_timestamp() + make_interval(secs => $2)
                WHERE order_id IN (
                    SELECT order_id FROM emails
                    WHERE state = 'pending'
                      AND created_at < clock_timestamp() - make_interval(secs => $1)
                      AND (locked_until IS NULL OR locked_until < clock_timestamp())
                    ORDER BY created_at LIMIT $3
                    FOR UPDATE SKIP LOCKED)
                RETURNING {_EMAIL_COLUMNS}""",
            older_than_seconds,
            lease_seconds,
            limit,
        )
        return [_stored(row) for row in rows]

    async def mark_sent(self, order_id: str) -> None:
        """Record that the SMTP server accepted the order's email."""
        await self._execute(
            """UPDATE emails SET state = 'sent', sent_at = clock_timestamp(),
                                 locked_until = NULL, last_error = NULL
               WHERE order_id = $1""",
            order_id,
        )

    async def release(self, order_id: str, *, error: str) -> None:
        """Give a leased email back after a failed attempt (it stays pending)."""
        await self._execute(
            """UPDATE emails SET locked_until = NULL, last_error = $2
               WHERE order_id = $1 AND state = 'pending'""",
            order_id,
            error,
        )

    async def _execute(self, query: str, *args: object) -> None:
        async with self._db.connection() as conn:
            await conn.execute(query, *args)

    async def list_emails(self, *, order_id: str | None, limit: int) -> list[StoredEmail]:
        """Emails, newest first, optionally of one order."""
        rows = await self._db.fetch(
            f"""SELECT {_EMAIL_COLUMNS} FROM emails
                WHERE $1::text IS NULL OR order_id = $1
                ORDER BY created_at DESC, order_id LIMIT $2""",
            order_id,
            limit,
        )
        return [_stored(row) for row in rows]
