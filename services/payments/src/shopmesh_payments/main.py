"""Payments' composition root: `uvicorn --factory shopmesh_payments.main:create_app`.

The lifespan migrates the database (SHOPMESH_RUN_MIGRATIONS) and opens the pool; the
simulated provider starts with the knobs from the settings; readiness is a database ping.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from shopmesh_common.app import create_app as create_service_app
from shopmesh_common.db import Database
from shopmesh_common.idempotency import IdempotencyStore
from shopmesh_common.logs import configure_logging
from shopmesh_common.migrate import upgrade

from .adapters.provider import SimulatedProvider
from .api.routes import router
from .settings import Settings

PACKAGE = "shopmesh_payments"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The payments app, wired to `settings` (read from the environment when None)."""
    settings = settings or Settings()
    configure_logging(settings.service_name)
    db = Database(settings.database_url, max_size=settings.db_pool_size)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if settings.run_migrations:
            await asyncio.to_thread(upgrade, PACKAGE, settings.database_url)
        await db.connect()
        try:
            yield
        finally:
            await db.close()

    app = create_service_app(
        service=settings.service_name,
        lifespan=lifespan,
        routers=[router],
        readiness=lambda _app: [db.ping],
    )
    app.state.settings = settings
    app.state.db = db
    app.state.idempotency = IdempotencyStore(
        db,
        service=settings.service_name,
        lease=timedelta(seconds=settings.idempotency_lease_seconds),
    )
    app.state.provider = SimulatedProvider(
        settings.faults(), hang_seconds=settings.hang_seconds, seed=settings.provider_seed
    )
    return app
