"""The projection rules: which event changes which part of an order's view.

Two kinds of fields, two rules, so events may arrive in any order:
- the order's state (status, reason, updated_at, version) follows the event with the
  highest `sequence`; an event not newer than the stored version does not touch it;
- the facts only `order.placed` carries (items, placed_at) never change once known, and a
  late `order.placed` fills them in even though its sequence is old (a confirmed or
  failed order that arrived first must not lose its status to it). `total_cents` is kept
  from the newest event that knows it, else from whichever event knew it.

`merge` states the rules on values; `adapters.repository` applies the same rules in one
guarded SQL upsert (so concurrent consumers need no read-modify-write), and the unit
tests' fake store uses `merge` itself.
"""

from __future__ import annotations

from shopmesh_common.events import Event

from .model import (
    Customer,
    Item,
    OrderChange,
    OrderConfirmed,
    OrderFailed,
    OrderPlaced,
    OrderView,
    UserRegistered,
)

ORDER_EVENTS = frozenset({"order.placed", "order.confirmed", "order.failed"})


def change_from_event(event: Event) -> OrderChange:
    """What an `order.*` event says about its order's view (raises on bad data)."""
    items: tuple[Item, ...] | None = None
    placed_at = None
    reason = None
    payload: OrderPlaced | OrderConfirmed | OrderFailed
    if event.event_type == "order.placed":
        payload = OrderPlaced.model_validate(event.data)
        items = tuple(
            Item(product_id=i.product_id, quantity=i.quantity, unit_price_cents=i.unit_price_cents)
            for i in payload.items
        )
        placed_at = event.occurred_at
        total = payload.total_cents
    elif event.event_type == "order.confirmed":
        payload = OrderConfirmed.model_validate(event.data)
        total = payload.total_cents
    elif event.event_type == "order.failed":
        payload = OrderFailed.model_validate(event.data)
        reason, total = payload.reason, None
    else:
        raise ValueError(f"not an order event the read model knows: {event.event_type}")
    return OrderChange(
        order_id=payload.order_id,
        customer_id=payload.customer_id,
        status=payload.status,
        reason=reason,
        items=items,
        total_cents=total,
        placed_at=placed_at,
        occurred_at=event.occurred_at,
        version=event.sequence,
    )


def customer_from_event(event: Event) -> Customer:
    """The customer a `user.registered` event describes."""
    user = UserRegistered.model_validate(event.data)
    return Customer(id=user.user_id, name=user.name, email=user.email, updated_at=event.occurred_at)


def view_from_change(change: OrderChange) -> OrderView:
    """The first view of an order: whatever its first-arriving event knows."""
    return OrderView(
        order_id=change.order_id,
        customer_id=change.customer_id,
        status=change.status,
        reason=change.reason,
        items=change.items,
        total_cents=change.total_cents,
        placed_at=change.placed_at,
        updated_at=change.occurred_at,
        version=change.version,
    )


def merge(current: OrderView | None, change: OrderChange) -> OrderView | None:
    """The view after `change`, or None when `change` adds nothing (stale or repeated)."""
    if current is None:
        return view_from_change(change)
    newer = change.version > current.version
    fills_in = current.items is None and change.items is not None
    if not newer and not fills_in:
        return None
    if newer:
        total = change.total_cents if change.total_cents is not None else current.total_cents
    else:
        total = current.total_cents if current.total_cents is not None else change.total_cents
    return OrderView(
        order_id=current.order_id,
        customer_id=current.customer_id,
        status=change.status if newer else current.status,
        reason=change.reason if newer else current.reason,
        items=current.items if current.items is not None else change.items,
        total_cents=total,
        placed_at=current.placed_at if current.placed_at is not None else change.placed_at,
        updated_at=change.occurred_at if newer else current.updated_at,
        version=max(current.version, change.version),
    )
