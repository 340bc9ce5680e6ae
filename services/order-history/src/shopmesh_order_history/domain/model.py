"""The read model's values and the event payloads it is built from.

Payloads are parsed once, at the edge (`OrderPlaced`, `OrderConfirmed`, `OrderFailed`,
`UserRegistered`); `OrderChange` is what one order event says about the view, `OrderView`
and `Customer` are the stored rows. Used by `domain.projection`, the adapters and the API.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class UserRegistered(_Payload):
    """The data of `user.registered`."""

    user_id: str = Field(min_length=1, max_length=200)
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(min_length=1, max_length=200)


class ItemPayload(_Payload):
    """One line of `order.placed` (the unit price is known once inventory priced it)."""

    product_id: str = Field(min_length=1, max_length=200)
    quantity: int = Field(ge=1)
    unit_price_cents: int | None = Field(default=None, ge=0)


class OrderPlaced(_Payload):
    """The data of `order.placed`."""

    order_id: str = Field(min_length=1, max_length=200)
    customer_id: str = Field(min_length=1, max_length=200)
    items: list[ItemPayload]
    total_cents: int | None = Field(default=None, ge=0)
    status: str = "PENDING"


class OrderConfirmed(_Payload):
    """The data of `order.confirmed`."""

    order_id: str = Field(min_length=1, max_length=200)
    customer_id: str = Field(min_length=1, max_length=200)
    total_cents: int | None = Field(default=None, ge=0)
    status: str = "CONFIRMED"


class OrderFailed(_Payload):
    """The data of `order.failed`."""

    order_id: str = Field(min_length=1, max_length=200)
    customer_id: str = Field(min_length=1, max_length=200)
    reason: str | None = Field(default=None, max_length=500)
    status: str = "FAILED"


@dataclass(frozen=True)
class Item:
    """One order line as the view shows it."""

    product_id: str
    quantity: int
    unit_price_cents: int | None

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored in `order_views.items`."""
        return {
            "product_id": self.product_id,
            "quantity": self.quantity,
            "unit_price_cents": self.unit_price_cents,
        }


@dataclass(frozen=True)
class OrderChange:
    """What one order event says. `items`/`placed_at` are None unless it is `order.placed`."""

    order_id: str
    customer_id: str
    status: str
    reason: str | None
    items: tuple[Item, ...] | None
    total_cents: int | None
    placed_at: datetime | None
    occurred_at: datetime
    version: int


@dataclass(frozen=True)
class OrderView:
    """One row of the read model. `version` is the sequence of the newest applied event."""

    order_id: str
    customer_id: str
    status: str
    reason: str | None
    items: tuple[Item, ...] | None
    total_cents: int | None
    placed_at: datetime | None
    updated_at: datetime
    version: int


@dataclass(frozen=True)
class Customer:
    """A customer as the read model knows them."""

    id: str
    name: str
    email: str
    updated_at: datetime


class Applied(StrEnum):
    """What an order event did to the view."""

    STATE = "state"  # newer than the view: its status (and anything missing) taken over
    FILLED = "filled"  # older, but brought the facts the view lacked (a late order.placed)
    STALE = "stale"  # older and nothing new: dropped
