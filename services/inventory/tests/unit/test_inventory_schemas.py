"""Unit tests of inventory's request schemas: what a client cannot send."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shopmesh_inventory.api.schemas import ProductIn, ReservationIn

ITEM = {"product_id": "mug", "quantity": 1}


def _reserve(**overrides: Any) -> dict[str, Any]:
    return {"order_id": "order-1", "items": [ITEM], **overrides}


def _product(**overrides: Any) -> dict[str, Any]:
    return {"id": "mug", "name": "Mug", "price_cents": 1200, "stock": 5, **overrides}


@pytest.mark.parametrize(
    ("model", "body"),
    [
        pytest.param(ReservationIn, _reserve(items=[]), id="no-items"),
        pytest.param(
            ReservationIn,
            _reserve(items=[{"product_id": f"p{i}", "quantity": 1} for i in range(51)]),
            id="51-items",
        ),
        pytest.param(ReservationIn, _reserve(items=[ITEM, ITEM]), id="duplicate-product"),
        pytest.param(ReservationIn, _reserve(items=[{**ITEM, "quantity": 0}]), id="quantity-0"),
        pytest.param(ReservationIn, _reserve(items=[{**ITEM, "quantity": 101}]), id="qty-101"),
        pytest.param(ReservationIn, _reserve(items=[{**ITEM, "quantity": "2"}]), id="qty-string"),
        pytest.param(ReservationIn, _reserve(items=[{**ITEM, "quantity": True}]), id="qty-bool"),
        pytest.param(ReservationIn, _reserve(items=[{**ITEM, "price": 1}]), id="item-extra"),
        pytest.param(ReservationIn, _reserve(items=[{"quantity": 1}]), id="no-product-id"),
        pytest.param(ReservationIn, _reserve(items=[{**ITEM, "product_id": ""}]), id="empty-pid"),
        pytest.param(ReservationIn, _reserve(order_id=""), id="empty-order-id"),
        pytest.param(ReservationIn, _reserve(order_id="a b"), id="order-id-space"),
        pytest.param(ReservationIn, _reserve(order_id="x" * 129), id="order-id-too-long"),
        pytest.param(ReservationIn, _reserve(ttl_seconds=0), id="ttl-0"),
        pytest.param(ReservationIn, _reserve(ttl_seconds=3601), id="ttl-too-long"),
        pytest.param(ReservationIn, _reserve(status="COMMITTED"), id="unknown-field"),
        pytest.param(ReservationIn, {"items": [ITEM]}, id="no-order-id"),
        pytest.param(ProductIn, _product(price_cents=0), id="price-0"),
        pytest.param(ProductIn, _product(stock=-1), id="stock-negative"),
        pytest.param(ProductIn, _product(name=""), id="empty-name"),
        pytest.param(ProductIn, _product(id="a/b"), id="id-slash"),
        pytest.param(ProductIn, _product(reserved=1), id="product-extra"),
        pytest.param(ProductIn, _product(price_cents=12.5), id="price-float"),
    ],
)
def test_rejected(model: type[BaseModel], body: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model.model_validate(body)


@pytest.mark.parametrize(
    ("model", "body"),
    [
        pytest.param(ReservationIn, _reserve(), id="minimal-reserve"),
        pytest.param(
            ReservationIn,
            _reserve(items=[{"product_id": f"p{i}", "quantity": 100} for i in range(50)]),
            id="50-items-of-100",
        ),
        pytest.param(ReservationIn, _reserve(ttl_seconds=3600, order_id="7f3c:x_1.y"), id="ttl"),
        pytest.param(ProductIn, _product(stock=0), id="product-stock-0"),
    ],
)
def test_accepted(model: type[BaseModel], body: dict[str, Any]) -> None:
    assert model.model_validate(body).model_dump(exclude_none=True) == body
