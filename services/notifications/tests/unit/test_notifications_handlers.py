"""The Notifier against in-memory fakes: which event sequences send which emails.

Each row is a sequence of steps (an event delivery, an SMTP outage, a sweeper round) and
the emails the fake SMTP server must have accepted at the end.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shopmesh_common.events import Event
from shopmesh_notifications.domain.model import EmailState
from shopmesh_notifications.service_layer.handlers import (
    EmailNotSentError,
    Notifier,
    RecipientUnknownError,
)


def _event(event_type: str, **data: Any) -> Event:
    aggregate = "user" if event_type.startswith("user.") else "order"
    key = data.get("user_id") or data["order_id"]
    return Event(event_type=event_type, aggregate_type=aggregate, aggregate_id=key, data=data)


EVENTS = {
    "user": _event("user.registered", user_id="u-1", email="ann@example.com", name="Ann"),
    "confirmed": _event("order.confirmed", order_id="o-1", customer_id="u-1", total_cents=990),
    "failed": _event("order.failed", order_id="o-1", customer_id="u-1", reason="out_of_stock"),
    "other-order": _event("order.failed", order_id="o-2", customer_id="u-1", reason="x"),
    "stranger-order": _event("order.confirmed", order_id="o-3", customer_id="u-404"),
    "cancelled": _event("order.cancelled", order_id="o-1", customer_id="u-1"),
}

OK = None


@pytest.mark.parametrize(
    ("steps", "expected_sent"),
    [
        pytest.param(
            [("user", OK), ("confirmed", OK)], [("o-1", "confirmed")], id="user-then-confirmed"
        ),
        pytest.param(
            [("user", OK), ("confirmed", OK), ("confirmed", OK), ("confirmed", OK)],
            [("o-1", "confirmed")],
            id="same-event-three-times",
        ),
        pytest.param(
            [("user", OK), ("confirmed", OK), ("failed", OK)],
            [("o-1", "confirmed")],
            id="confirmed-then-failed",
        ),
        pytest.param(
            [("user", OK), ("failed", OK), ("confirmed", OK)],
            [("o-1", "failed")],
            id="failed-then-confirmed",
        ),
        pytest.param(
            [("confirmed", RecipientUnknownError), ("user", OK), ("confirmed", OK)],
            [("o-1", "confirmed")],
            id="order-before-user-is-retried",
        ),
        pytest.param(
            [("user", OK), ("confirmed", OK), ("other-order", OK)],
            [("o-1", "confirmed"), ("o-2", "failed")],
            id="one-email-per-order",
        ),
        pytest.param(
            [("user", OK), ("smtp-down", OK), ("confirmed", EmailNotSentError), ("confirmed", OK)],
            [("o-1", "confirmed")],
            id="failed-send-retried-by-redelivery",
        ),
        pytest.param(
            [("user", OK), ("smtp-down", OK), ("confirmed", EmailNotSentError), ("sweep", OK)],
            [("o-1", "confirmed")],
            id="failed-send-retried-by-sweeper",
        ),
        pytest.param(
            [("user", OK), ("smtp-down", OK), ("confirmed", EmailNotSentError), ("failed", OK)],
            [("o-1", "confirmed")],
            id="second-terminal-event-sends-the-pending-first-email",
        ),
        pytest.param(
            [("user", OK), ("stranger-order", RecipientUnknownError)], [], id="unknown-customer"
        ),
        pytest.param([("user", OK), ("cancelled", OK)], [], id="other-event-types-ignored"),
    ],
)
async def test_event_sequences(
    notifier: Notifier, mailer: Any, steps: list[tuple[str, Any]], expected_sent: list[Any]
) -> None:
    for name, raises in steps:
        if name == "smtp-down":
            mailer.failures = 1
        elif name == "sweep":
            await notifier.sweep(older_than_seconds=0)
        elif raises is OK:
            await notifier.handle(EVENTS[name])
        else:
            with pytest.raises(raises):
                await notifier.handle(EVENTS[name])
    assert [(e.order_id, e.kind.value) for e in mailer.sent] == expected_sent


async def test_unknown_recipient_rolls_back_the_inbox_claim(notifier: Notifier, store: Any) -> None:
    with pytest.raises(RecipientUnknownError):
        await notifier.handle(EVENTS["confirmed"])
    assert EVENTS["confirmed"].event_id not in store.inbox
    assert store.emails == {}


async def test_failed_send_leaves_the_email_pending(
    notifier: Notifier, store: Any, mailer: Any
) -> None:
    await notifier.handle(EVENTS["user"])
    mailer.failures = 1
    with pytest.raises(EmailNotSentError):
        await notifier.handle(EVENTS["confirmed"])
    row = store.emails["o-1"]
    assert (row.state, row.attempts, row.leased) == (EmailState.PENDING, 1, False)
    assert "smtp server down" in row.last_error


async def test_sweeper_leaves_fresh_pending_emails_to_the_handler(
    notifier: Notifier, mailer: Any
) -> None:
    await notifier.handle(EVENTS["user"])
    mailer.failures = 1
    with pytest.raises(EmailNotSentError):
        await notifier.handle(EVENTS["confirmed"])
    assert await notifier.sweep(older_than_seconds=3600) == 0
    assert mailer.sent == []


@pytest.mark.parametrize(
    "event",
    [
        pytest.param(_event("order.confirmed", order_id="o-1"), id="confirmed-without-customer"),
        pytest.param(
            _event("user.registered", user_id="u-1", email="not-an-address", name="N"),
            id="user-with-bad-email",
        ),
    ],
)
async def test_malformed_data_is_rejected(notifier: Notifier, event: Event) -> None:
    with pytest.raises(ValidationError):
        await notifier.handle(event)
