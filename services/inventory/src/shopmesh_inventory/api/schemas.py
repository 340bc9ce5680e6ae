"""Inventory's request and response bodies (pydantic), the HTTP contract in services/README.md.

Requests are strict (no "3" for 3, no unknown fields) and bounded, so a rejected request is
refused before it reaches the database. Used by api.routes and the unit tests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..domain.reservations import Product, Reservation, ReservationStatus

ORDER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
PRODUCT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

OrderId = Annotated[str, Field(pattern=ORDER_ID_PATTERN, min_length=1, max_length=128)]
ProductId = Annotated[str, Field(pattern=PRODUCT_ID_PATTERN, min_length=1, max_length=64)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class ReservationItemIn(_Request):
    """One requested line."""

    product_id: ProductId
    quantity: int = Field(ge=1, le=100)


class ReservationIn(_Request):
    """`POST /reservations`."""

    order_id: OrderId
    items: list[ReservationItemIn] = Field(min_length=1, max_length=50)
    ttl_seconds: int | None = Field(default=None, ge=1, le=3600)

    @field_validator("items")
    @classmethod
    def _unique_products(cls, items: list[ReservationItemIn]) -> list[ReservationItemIn]:
        seen: set[str] = set()
        for item in items:
            if item.product_id in seen:
                raise ValueError(f"product {item.product_id!r} appears more than once")
            seen.add(item.product_id)
        return items


class ProductIn(_Request):
    """`POST /admin/products`: create, or set name, price and available stock."""

    id: ProductId
    name: str = Field(min_length=1, max_length=200)
    price_cents: int = Field(ge=1, le=10_000_000)
    stock: int = Field(ge=0, le=1_000_000)


class ProductOut(BaseModel):
    """A product; `stock` is what can be ordered now (the available units)."""

    id: str
    name: str
    price_cents: int
    stock: int
    reserved: int
    sold: int

    @classmethod
    def of(cls, product: Product) -> ProductOut:
        """From the domain."""
        return cls(
            id=product.id,
            name=product.name,
            price_cents=product.price_cents,
            stock=product.stock.available,
            reserved=product.stock.reserved,
            sold=product.stock.sold,
        )


class ReservationLineOut(BaseModel):
    """One reserved line, priced at reservation time."""

    product_id: str
    quantity: int
    unit_price_cents: int


class ReservationOut(BaseModel):
    """A reservation (also the answer of commit and release)."""

    order_id: str
    status: ReservationStatus
    items: list[ReservationLineOut]
    total_cents: int
    expires_at: datetime | None
    reason: str | None

    @classmethod
    def of(cls, reservation: Reservation) -> ReservationOut:
        """From the domain."""
        return cls(
            order_id=reservation.order_id,
            status=reservation.status,
            items=[
                ReservationLineOut(
                    product_id=line.product_id,
                    quantity=line.quantity,
                    unit_price_cents=line.unit_price_cents,
                )
                for line in reservation.lines
            ],
            total_cents=reservation.total_cents,
            expires_at=reservation.expires_at,
            reason=reservation.reason,
        )
