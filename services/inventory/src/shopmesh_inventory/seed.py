"""`python -m shopmesh_inventory.seed [--stock N]`: upsert the demo products.

Connects to SHOPMESH_POSTGRES_URL / SHOPMESH_DATABASE (default database `inventory`),
migrates first when SHOPMESH_RUN_MIGRATIONS (default true), and sets each demo product's
available units to its stock (running it again is a restock). Used by the demo.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from shopmesh_common.db import Database
from shopmesh_common.migrate import upgrade

from .domain.reservations import Product
from .service_layer.products import upsert_product
from .settings import Settings

# (id, name, price in cents, stock)
DEMO_PRODUCTS: tuple[tuple[str, str, int, int], ...] = (
    ("espresso-beans", "Espresso beans, 1 kg", 2490, 100),
    ("pour-over-kettle", "Pour-over kettle", 5900, 25),
    ("ceramic-mug", "Ceramic mug", 1200, 200),
    ("hand-grinder", "Hand grinder", 8900, 10),
    ("paper-filters", "Paper filters (100)", 650, 500),
    ("limited-edition-tin", "Limited edition tin", 3500, 3),
)


async def seed(settings: Settings, *, stock: int | None = None) -> list[Product]:
    """Upsert every demo product (`stock` overrides each one's default stock)."""
    if settings.run_migrations:
        await asyncio.to_thread(upgrade, "shopmesh_inventory", settings.database_url)
    db = Database(settings.database_url, min_size=1, max_size=2)
    await db.connect()
    try:
        return [
            await upsert_product(
                db,
                product_id=product_id,
                name=name,
                price_cents=price_cents,
                stock=default_stock if stock is None else stock,
            )
            for product_id, name, price_cents, default_stock in DEMO_PRODUCTS
        ]
    finally:
        await db.close()


def main(argv: Sequence[str] | None = None) -> None:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m shopmesh_inventory.seed", description=__doc__)
    parser.add_argument("--stock", type=int, default=None, help="the same stock for every product")
    args = parser.parse_args(argv)
    if args.stock is not None and args.stock < 0:
        parser.error("--stock must be >= 0")
    for product in asyncio.run(seed(Settings(), stock=args.stock)):
        print(f"{product.id}\t{product.price_cents}\t{product.stock.available}")


if __name__ == "__main__":
    main()
