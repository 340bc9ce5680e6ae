"""Response models of notifications' routes (`api.routes`)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from ..domain.model import EmailKind, EmailState, StoredEmail


class EmailOut(BaseModel):
    """One order's email and how sending it went."""

    order_id: str
    kind: EmailKind
    recipient: str
    subject: str
    state: EmailState
    attempts: int
    message_id: str
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def of(cls, stored: StoredEmail) -> EmailOut:
        """The public view of a stored email."""
        return cls(
            order_id=stored.email.order_id,
            kind=stored.email.kind,
            recipient=stored.email.recipient,
            subject=stored.email.subject,
            state=stored.state,
            attempts=stored.attempts,
            message_id=stored.email.message_id,
            last_error=stored.last_error,
            created_at=stored.created_at,
            sent_at=stored.sent_at,
        )
