"""Payments' composition root: `uvicorn --factory shopmesh_payments.main:create_app`.

The lifespan migrates the database (SHOPMESH_RUN_MIGRATIONS) and opens the pool; the
simulated provider starts with the knobs from the settings; readiness is a database ping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from shopmesh_common.app import create_app as create_service_app
from shopmesh_common.idempotency import IdempotencyStore
from shopmesh_common.lifespan import database_readiness, service_lifespan

from .adapters.provider import SimulatedProvider
from .api.routes import router
from .settings import Settings

PACKAGE = "shopmesh_payments"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The payments app, wired to `settings` (read from the environment when None)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(app, settings, package=PACKAGE) as runtime:
            app.state.idempotency = IdempotencyStore(
                runtime.db,
                service=settings.service_name,
                lease=timedelta(seconds=settings.idempotency_lease_seconds),
            )
            yield

    app = create_service_app(
        service=settings.service_name,
        lifespan=lifespan,
        routers=[router],
        readiness=database_readiness,
    )
    app.state.provider = SimulatedProvider(
        settings.faults(), hang_seconds=settings.hang_seconds, seed=settings.provider_seed
    )
    return app
