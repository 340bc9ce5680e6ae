"""Inventory's composition root: `uvicorn --factory shopmesh_inventory.main:create_app`.

The lifespan migrates the database (SHOPMESH_RUN_MIGRATIONS), opens the pool and starts the
expiry sweeper (SHOPMESH_SWEEPER_ENABLED); readiness is a database ping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shopmesh_common.app import Background
from shopmesh_common.app import create_app as create_service_app
from shopmesh_common.db import Database
from shopmesh_common.logs import configure_logging
from shopmesh_common.migrate import upgrade

from .api.routes import router
from .service_layer.sweeper import run_sweeper
from .settings import Settings

PACKAGE = "shopmesh_inventory"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The inventory app, wired to `settings` (read from the environment when None)."""
    settings = settings or Settings()
    configure_logging(settings.service_name)
    db = Database(settings.database_url, max_size=settings.db_pool_size)
    background = Background()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.run_migrations:
            await asyncio.to_thread(upgrade, PACKAGE, settings.database_url)
        await db.connect()
        if settings.sweeper_enabled:
            background.start(
                "reservation-sweeper",
                lambda: run_sweeper(
                    db, interval=settings.sweep_seconds, batch=settings.sweep_batch
                ),
            )
        try:
            yield
        finally:
            await background.stop()
            await db.close()

    app = create_service_app(
        service=settings.service_name,
        lifespan=lifespan,
        routers=[router],
        readiness=lambda _app: [db.ping],
    )
    app.state.settings = settings
    app.state.db = db
    app.state.background = background
    return app
