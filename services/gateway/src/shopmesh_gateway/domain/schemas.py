"""The request bodies the gateway checks before forwarding (pydantic v2).

The gateway depends on no service package, so these are its own copies of the services'
input shapes, as strict as theirs or looser, never stricter: a body the gateway lets
through may still be refused by the service (422 passed on), but a body the service
would take is never refused here. Email syntax in particular is left to users.
Used by domain.routes (each route names its body) and api.admin.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

ProductId = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Email = Annotated[str, Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class SignupIn(BaseModel):
    """POST /api/auth/signup."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Annotated[str, Field(min_length=8, max_length=128)]
    name: Name


class LoginIn(BaseModel):
    """POST /api/auth/login."""

    model_config = ConfigDict(extra="forbid")

    email: Email
    password: Annotated[str, Field(min_length=1, max_length=128)]


class OrderItemIn(BaseModel):
    """One line of a new order."""

    model_config = ConfigDict(extra="forbid")

    product_id: ProductId
    quantity: int = Field(ge=1, le=100)


class CreateOrderIn(BaseModel):
    """POST /api/orders: the orders service's CreateOrder shape."""

    model_config = ConfigDict(extra="forbid")

    items: list[OrderItemIn] = Field(min_length=1, max_length=50)

    @field_validator("items")
    @classmethod
    def _distinct_products(cls, items: list[OrderItemIn]) -> list[OrderItemIn]:
        seen = [item.product_id for item in items]
        if len(seen) != len(set(seen)):
            raise ValueError("each product may appear once; add up the quantities")
        return items


class ApiKeyIn(BaseModel):
    """POST /admin/api-keys: a name for people and the route names the key may call."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    scopes: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=20
    )
