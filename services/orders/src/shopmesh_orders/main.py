"""The orders composition root: `uvicorn --factory shopmesh_orders.main:create_app`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shopmesh_common.app import Background
from shopmesh_common.app import create_app as create_service_app
from shopmesh_common.db import Database
from shopmesh_common.idempotency import IdempotencyStore
from shopmesh_common.migrate import upgrade
from shopmesh_common.outbox import OutboxRelay
from shopmesh_common.resilience import BreakerSettings, ClientFactory, DownstreamSettings

from .adapters.participants import HttpParticipants
from .api.routes import router
from .service_layer.saga_runner import SagaRunner
from .settings import Settings


def downstreams(settings: Settings) -> list[DownstreamSettings]:
    """How orders calls inventory and payments (timeouts, retries, breakers)."""
    common = {
        "timeout_seconds": settings.call_timeout_seconds,
        "retry_attempts": 2,
        "deadline_seconds": settings.call_timeout_seconds * 2.5,
        "breaker": BreakerSettings(wait_duration_in_open=2.0),
        "bulkhead_max_concurrent": settings.max_concurrent_sagas,
        "bulkhead_max_wait_seconds": 1.0,
    }
    return [
        DownstreamSettings(name="inventory", base_url=settings.inventory_url, **common),  # type: ignore[arg-type]
        DownstreamSettings(name="payments", base_url=settings.payments_url, **common),  # type: ignore[arg-type]
    ]


def create_app(settings: Settings | None = None) -> FastAPI:
    """The orders app."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.run_migrations:
            await asyncio.to_thread(upgrade, "shopmesh_orders", settings.database_url)
        db = Database(settings.database_url, max_size=settings.db_pool_size)
        await db.connect()
        clients = ClientFactory(settings.service_name, downstreams(settings))
        runner = SagaRunner(db=db, participants=HttpParticipants(clients), settings=settings)
        background = Background()
        app.state.settings = settings
        app.state.db = db
        app.state.keys = IdempotencyStore(db, service=settings.service_name)
        app.state.runner = runner
        background.start("saga-recovery", runner.recover)
        if settings.relay_enabled:
            relay = OutboxRelay(
                service=settings.service_name,
                database_url=settings.database_url,
                amqp_url=settings.amqp_url,
            )
            background.start("outbox-relay", relay.run)
        try:
            yield
        finally:
            await background.stop()
            await runner.stop()
            await clients.close()
            await db.close()

    return create_service_app(
        service=settings.service_name,
        lifespan=lifespan,
        routers=[router],
        readiness=lambda app: [app.state.db.ping],
    )
