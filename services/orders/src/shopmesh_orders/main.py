"""The orders composition root: `uvicorn --factory shopmesh_orders.main:create_app`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shopmesh_common.app import create_app as create_service_app
from shopmesh_common.idempotency import IdempotencyStore
from shopmesh_common.lifespan import database_readiness, service_lifespan
from shopmesh_common.resilience import BreakerSettings, ClientFactory, DownstreamSettings

from .adapters.participants import HttpParticipants
from .api.routes import router
from .service_layer.saga_runner import SagaRunner
from .settings import Settings

PACKAGE = "shopmesh_orders"


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
        async with service_lifespan(app, settings, package=PACKAGE) as runtime:
            clients = ClientFactory(settings.service_name, downstreams(settings))
            runtime.on_close(clients.close)
            runner = SagaRunner(
                db=runtime.db, participants=HttpParticipants(clients), settings=settings
            )
            runtime.on_close(runner.stop)
            app.state.keys = IdempotencyStore(runtime.db, service=settings.service_name)
            app.state.runner = runner
            runtime.background.start("saga-recovery", runner.recover)
            runtime.start_outbox_relay()
            yield

    return create_service_app(
        service=settings.service_name,
        lifespan=lifespan,
        routers=[router],
        readiness=database_readiness,
    )
