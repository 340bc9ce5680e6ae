"""Inventory's composition root: `uvicorn --factory shopmesh_inventory.main:create_app`.

The lifespan migrates the database (SHOPMESH_RUN_MIGRATIONS), opens the pool and starts the
expiry sweeper (SHOPMESH_SWEEPER_ENABLED); readiness is a database ping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shopmesh_common.app import create_app as create_service_app
from shopmesh_common.lifespan import database_readiness, service_lifespan

from .api.routes import router
from .service_layer.sweeper import run_sweeper
from .settings import Settings

PACKAGE = "shopmesh_inventory"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The inventory app, wired to `settings` (read from the environment when None)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(app, settings, package=PACKAGE) as runtime:
            if settings.sweeper_enabled:
                runtime.background.start(
                    "reservation-sweeper",
                    lambda: run_sweeper(
                        runtime.db, interval=settings.sweep_seconds, batch=settings.sweep_batch
                    ),
                )
            yield

    return create_service_app(
        service=settings.service_name,
        lifespan=lifespan,
        routers=[router],
        readiness=database_readiness,
    )
