"""Inventory's HTTP routes (contract: services/README.md, "inventory").

Products: `GET /products`, `GET /products/{id}`, `POST /admin/products` (upsert).
Reservations (the orders saga): `POST /reservations` (201 new, 200 the same again),
`POST /reservations/{order_id}/commit`, `POST /reservations/{order_id}/release`,
`GET /reservations/{order_id}`. Errors are problem+json (`shopmesh_common.problems`).
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response, status

from ..domain.reservations import Action
from ..service_layer import products, reservations
from .deps import DatabaseDep, OrderIdPath, ProductIdPath, SettingsDep
from .schemas import ProductIn, ProductOut, ReservationIn, ReservationOut

router = APIRouter()


@router.get("/products", tags=["products"])
async def list_products(db: DatabaseDep) -> list[ProductOut]:
    """Every product with the units available now (`stock`)."""
    return [ProductOut.of(product) for product in await products.list_products(db)]


@router.get("/products/{product_id}", tags=["products"])
async def get_product(product_id: ProductIdPath, db: DatabaseDep) -> ProductOut:
    """One product."""
    return ProductOut.of(await products.get_product(db, product_id))


@router.post("/admin/products", status_code=status.HTTP_201_CREATED, tags=["admin"])
async def upsert_product(body: ProductIn, db: DatabaseDep) -> ProductOut:
    """Create a product, or set its name, price and available units (a restock)."""
    product = await products.upsert_product(
        db, product_id=body.id, name=body.name, price_cents=body.price_cents, stock=body.stock
    )
    return ProductOut.of(product)


@router.post("/reservations", status_code=status.HTTP_201_CREATED, tags=["reservations"])
async def reserve(
    body: ReservationIn, response: Response, db: DatabaseDep, settings: SettingsDep
) -> ReservationOut:
    """Hold stock for an order, all lines or none; the same order again answers 200."""
    ttl = timedelta(seconds=body.ttl_seconds or settings.reservation_ttl_seconds)
    result = await reservations.reserve(
        db,
        order_id=body.order_id,
        requested=[(item.product_id, item.quantity) for item in body.items],
        ttl=ttl,
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return ReservationOut.of(result.reservation)


@router.get("/reservations/{order_id}", tags=["reservations"])
async def get_reservation(order_id: OrderIdPath, db: DatabaseDep) -> ReservationOut:
    """The reservation of an order."""
    return ReservationOut.of(await reservations.get(db, order_id=order_id))


@router.post("/reservations/{order_id}/commit", tags=["reservations"])
async def commit_reservation(order_id: OrderIdPath, db: DatabaseDep) -> ReservationOut:
    """Turn the reserved units into sold ones (idempotent; 409 once released or expired)."""
    return ReservationOut.of(await reservations.change(db, order_id=order_id, action=Action.COMMIT))


@router.post("/reservations/{order_id}/release", tags=["reservations"])
async def release_reservation(order_id: OrderIdPath, db: DatabaseDep) -> ReservationOut:
    """Give the units back (idempotent; 409 once committed; an unknown order is tombstoned)."""
    return ReservationOut.of(
        await reservations.change(db, order_id=order_id, action=Action.RELEASE)
    )
