"""The notification domain's values: recipients, finished orders and emails.

Event payloads are parsed here once, at the edge (`UserRegistered`, `OrderFinished`), so the
rest of the service works with typed values. Used by `domain.emails`, the adapters and the
service layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class EmailKind(StrEnum):
    """Which email an order gets: one per order, for the outcome that arrived first."""

    CONFIRMED = "confirmed"
    FAILED = "failed"


KIND_BY_EVENT: dict[str, EmailKind] = {
    "order.confirmed": EmailKind.CONFIRMED,
    "order.failed": EmailKind.FAILED,
}


class EmailState(StrEnum):
    """`pending` until the SMTP server accepted the message, then `sent`."""

    PENDING = "pending"
    SENT = "sent"


class UserRegistered(BaseModel):
    """The data of `user.registered`."""

    model_config = ConfigDict(extra="ignore")

    user_id: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(min_length=1, max_length=200)


class OrderFinished(BaseModel):
    """The data of `order.confirmed` and `order.failed` that an email needs."""

    model_config = ConfigDict(extra="ignore")

    order_id: str = Field(min_length=1, max_length=200)
    customer_id: str = Field(min_length=1, max_length=200)
    total_cents: int | None = Field(default=None, ge=0)
    reason: str | None = Field(default=None, max_length=500)


@dataclass(frozen=True)
class Recipient:
    """A customer as notifications knows them (its own projection of `user.registered`)."""

    user_id: str
    email: str
    name: str


@dataclass(frozen=True)
class OutgoingEmail:
    """One email, fully rendered, as it is stored before it is sent."""

    order_id: str
    kind: EmailKind
    customer_id: str
    recipient: str
    recipient_name: str
    subject: str
    body: str
    message_id: str


@dataclass(frozen=True)
class StoredEmail:
    """An email row: what was rendered plus how sending went."""

    email: OutgoingEmail
    state: EmailState
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
