"""The pure email rules: the decision table, the rendered email and its MIME headers."""

from __future__ import annotations

import pytest

from shopmesh_notifications.adapters.mailer import ORDER_ID_HEADER, build_message
from shopmesh_notifications.domain.emails import (
    Action,
    compose_email,
    decide,
    format_cents,
    message_id_for,
)
from shopmesh_notifications.domain.model import EmailKind, EmailState, OrderFinished, Recipient

ALICE = Recipient(user_id="u-1", email="alice@example.com", name="Alice")


@pytest.mark.parametrize(
    ("first_delivery", "existing", "recipient_known", "expected"),
    [
        pytest.param(True, None, True, Action.CREATE_AND_SEND, id="new-order-known-recipient"),
        pytest.param(True, None, False, Action.WAIT_FOR_RECIPIENT, id="recipient-not-yet-known"),
        pytest.param(False, None, True, Action.IGNORE, id="duplicate-delivery-nothing-recorded"),
        pytest.param(False, EmailState.SENT, True, Action.IGNORE, id="duplicate-after-sent"),
        pytest.param(
            False, EmailState.PENDING, True, Action.SEND_PENDING, id="redelivery-after-failed-send"
        ),
        pytest.param(True, EmailState.SENT, True, Action.IGNORE, id="second-terminal-event-sent"),
        pytest.param(
            True, EmailState.PENDING, True, Action.SEND_PENDING, id="second-terminal-event-pending"
        ),
        pytest.param(
            True, EmailState.SENT, False, Action.IGNORE, id="second-event-needs-no-recipient"
        ),
    ],
)
def test_decide(
    first_delivery: bool, existing: EmailState | None, recipient_known: bool, expected: Action
) -> None:
    got = decide(first_delivery=first_delivery, existing=existing, recipient_known=recipient_known)
    assert got is expected


@pytest.mark.parametrize(
    ("kind", "order", "in_subject", "in_body"),
    [
        pytest.param(
            EmailKind.CONFIRMED,
            OrderFinished(order_id="o-1", customer_id="u-1", total_cents=1234),
            "is confirmed",
            "Total: 12.34.",
            id="confirmed-with-total",
        ),
        pytest.param(
            EmailKind.FAILED,
            OrderFinished(order_id="o-2", customer_id="u-1", reason="out_of_stock"),
            "could not be completed",
            "some items are out of stock",
            id="failed-known-reason",
        ),
        pytest.param(
            EmailKind.FAILED,
            OrderFinished(order_id="o-3", customer_id="u-1", reason="warehouse_flooded"),
            "could not be completed",
            "warehouse flooded",
            id="failed-unknown-reason",
        ),
    ],
)
def test_compose_email(
    kind: EmailKind, order: OrderFinished, in_subject: str, in_body: str
) -> None:
    email = compose_email(kind, order, ALICE)
    assert in_subject in email.subject
    assert order.order_id in email.subject
    assert in_body in email.body
    assert email.body.startswith("Hello Alice,")
    assert email.recipient == "alice@example.com"
    assert email.message_id == f"<order-{order.order_id}@shopmesh.local>"


@pytest.mark.parametrize(
    ("cents", "text"),
    [(0, "0.00"), (5, "0.05"), (99, "0.99"), (100, "1.00"), (123456, "1234.56")],
)
def test_format_cents(cents: int, text: str) -> None:
    assert format_cents(cents) == text


def test_message_headers_are_stable_per_order() -> None:
    order = OrderFinished(order_id="o-9", customer_id="u-1", total_cents=100)
    first = build_message(compose_email(EmailKind.CONFIRMED, order, ALICE), sender="s@x.local")
    again = build_message(compose_email(EmailKind.CONFIRMED, order, ALICE), sender="s@x.local")
    assert first["Message-ID"] == again["Message-ID"] == message_id_for("o-9")
    assert first[ORDER_ID_HEADER] == "o-9"
    assert first["To"] == "Alice <alice@example.com>"
