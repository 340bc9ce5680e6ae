"""Products: list, read and the admin upsert (seeding and restocking).

The upsert sets a product's name and price and its *available* units to `stock`: for a new
product that is its whole stock; for an existing one it is a restock (units already
reserved or sold stay as they are, so the total becomes stock + reserved + sold). This is
the only place the total of a product changes. Used by api.routes and `seed`.
"""

from __future__ import annotations

from shopmesh_common.db import Database
from shopmesh_common.problems import Problem

from ..adapters import repository as repo
from ..domain.reservations import Product


async def list_products(db: Database) -> list[Product]:
    """Every product, by id."""
    async with db.connection() as conn:
        return await repo.list_products(conn)


async def get_product(db: Database, product_id: str) -> Product:
    """One product, or 404."""
    async with db.connection() as conn:
        product = await repo.get_product(conn, product_id)
    if product is None:
        raise Problem(404, f"no product {product_id!r}", type_="product-not-found")
    return product


async def upsert_product(
    db: Database, *, product_id: str, name: str, price_cents: int, stock: int
) -> Product:
    """Create the product with `stock` available units, or restock an existing one."""
    async with db.transaction() as conn:
        created = await repo.insert_product(
            conn, product_id=product_id, name=name, price_cents=price_cents, available=stock
        )
        if created is not None:
            return created
        (current,) = (await repo.lock_products(conn, [product_id])).values()
        return await repo.update_product(
            conn,
            Product(product_id, name, price_cents, current.stock.restock(stock)),
        )
