"""The email rules: whether an order event leads to an email, and what the email says.

`decide` is the decision table the service layer follows for `order.confirmed` and
`order.failed` (tested row by row in tests/unit); `compose_email` renders the one email an
order gets. The Message-ID is derived from the order id alone, so every (re-)send of an
order's email carries the same id and a receiver can recognise a duplicate.
"""

from __future__ import annotations

from enum import StrEnum

from .model import EmailKind, EmailState, OrderFinished, OutgoingEmail, Recipient

MESSAGE_ID_DOMAIN = "shopmesh.local"

REASON_TEXT = {
    "out_of_stock": "some items are out of stock",
    "payment_declined": "the payment was declined",
    "payment_unavailable": "the payment service did not answer in time",
    "inventory_unavailable": "the inventory service did not answer in time",
}


class Action(StrEnum):
    """What the handler does with an order's terminal event."""

    IGNORE = "ignore"  # nothing due: already sent, or a redelivery of a handled event
    WAIT_FOR_RECIPIENT = "wait-for-recipient"  # raise, so the broker retries later
    CREATE_AND_SEND = "create-and-send"  # record the email, commit, then send it
    SEND_PENDING = "send-pending"  # an earlier attempt left the email unsent: send it now


def decide(*, first_delivery: bool, existing: EmailState | None, recipient_known: bool) -> Action:
    """The decision table for a terminal order event.

    `first_delivery` is the inbox's answer for this event id; `existing` the state of the
    order's email row, if any (one row per order, whichever terminal event came first).
    """
    if existing is EmailState.PENDING:
        return Action.SEND_PENDING
    if existing is EmailState.SENT or not first_delivery:
        return Action.IGNORE
    if not recipient_known:
        return Action.WAIT_FOR_RECIPIENT
    return Action.CREATE_AND_SEND


def message_id_for(order_id: str) -> str:
    """The stable Message-ID of an order's email."""
    return f"<order-{order_id}@{MESSAGE_ID_DOMAIN}>"


def format_cents(cents: int) -> str:
    """1234 -> '12.34' (integer arithmetic: money never goes through a float)."""
    return f"{cents // 100}.{cents % 100:02d}"


def explain_reason(reason: str | None) -> str:
    """A sentence fragment a customer understands for a failure reason."""
    if not reason:
        return "it could not be completed"
    return REASON_TEXT.get(reason, reason.replace("_", " "))


def compose_email(kind: EmailKind, order: OrderFinished, recipient: Recipient) -> OutgoingEmail:
    """The email for `order`'s outcome `kind`, addressed to `recipient`."""
    if kind is EmailKind.CONFIRMED:
        subject = f"Your ShopMesh order {order.order_id} is confirmed"
        total = "" if order.total_cents is None else f" Total: {format_cents(order.total_cents)}."
        text = f"your order {order.order_id} is confirmed and on its way.{total}"
    else:
        subject = f"Your ShopMesh order {order.order_id} could not be completed"
        text = (
            f"we are sorry: your order {order.order_id} was cancelled because "
            f"{explain_reason(order.reason)}. Any payment for it has been refunded."
        )
    body = f"Hello {recipient.name},\n\n{text}\n\nThe ShopMesh team\n"
    return OutgoingEmail(
        order_id=order.order_id,
        kind=kind,
        customer_id=order.customer_id,
        recipient=recipient.email,
        recipient_name=recipient.name,
        subject=subject,
        body=body,
        message_id=message_id_for(order.order_id),
    )
