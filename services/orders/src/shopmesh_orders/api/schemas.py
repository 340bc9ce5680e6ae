"""What POST /orders accepts and what the order routes return."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

ProductId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class OrderItemIn(BaseModel):
    """One line of a new order."""

    model_config = ConfigDict(extra="forbid")

    product_id: ProductId
    quantity: int = Field(ge=1, le=100)


class CreateOrder(BaseModel):
    """POST /orders body."""

    model_config = ConfigDict(extra="forbid")

    items: list[OrderItemIn] = Field(min_length=1, max_length=50)

    @field_validator("items")
    @classmethod
    def _distinct_products(cls, items: list[OrderItemIn]) -> list[OrderItemIn]:
        seen = [item.product_id for item in items]
        if len(seen) != len(set(seen)):
            raise ValueError("each product may appear once; add up the quantities")
        return items


class OrderAccepted(BaseModel):
    """202 answer."""

    id: str
    status: str


class OrderOut(BaseModel):
    """GET /orders/{id}."""

    id: str
    customer_id: str
    status: str
    reason: str | None
    items: list[dict[str, Any]]
    total_cents: int | None
    steps: list[dict[str, Any]] | None = None
