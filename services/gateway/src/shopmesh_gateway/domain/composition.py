"""The "my orders" merge: a user from users and their orders from the order-history view.

`compose` takes what each side answered (None: that side is down) and the last complete
answer kept for this user, if any, and builds the response body:
`{user, orders, degraded, unavailable?, stale?}`. A side that is down is filled from
what is still known: the user from order-history's own copy of the customer (the read
model keeps one from `user.registered`), else from the last good answer; the orders
from the last good answer. `degraded` is true whenever a side did not answer live,
`stale` when a part came from the cached answer. With nothing at all to show it
returns None (the caller answers 503).

Pure; used by service_layer.composition and its unit table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Composed:
    body: dict[str, Any]
    complete: bool  # both sides answered live: worth keeping as the last good answer


def compose(
    *,
    user: Mapping[str, Any] | None,
    history: Mapping[str, Any] | None,
    cached: Mapping[str, Any] | None,
) -> Composed | None:
    """Merge users' answer (`user`) and order-history's (`history`); None means down."""
    unavailable: list[str] = []
    stale = False
    body_user: Any = user
    if user is None:
        unavailable.append("users")
        if history is not None and history.get("customer") is not None:
            body_user = history["customer"]
        elif cached is not None:
            body_user, stale = cached.get("user"), True
    body_orders: Any = None if history is None else history.get("orders", [])
    if history is None:
        unavailable.append("order-history")
        if cached is not None:
            body_orders, stale = cached.get("orders"), True
    if body_user is None and body_orders is None:
        return None
    body: dict[str, Any] = {"user": body_user, "orders": body_orders, "degraded": bool(unavailable)}
    if unavailable:
        body["unavailable"] = unavailable
    if stale:
        body["stale"] = True
    return Composed(body=body, complete=not unavailable)
