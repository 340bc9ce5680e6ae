"""The composition root of order history: `create_app()` (uvicorn --factory).

Wires the PostgreSQL read model and the `Projector` together, consumes `user.registered`
and `order.*` from the settings' queue (with delayed retries and a dead-letter queue), and
mounts `GET /users/{id}/orders` and the dead-letter admin routes next to the shared health
and metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shopmesh_common.app import Background, ReadinessCheck
from shopmesh_common.app import create_app as create_service_app
from shopmesh_common.broker import Consumer, ConsumerSpec
from shopmesh_common.db import Database
from shopmesh_common.dead_letters import admin_router
from shopmesh_common.logs import configure_logging
from shopmesh_common.migrate import upgrade

from .adapters.repository import PostgresReadModel
from .api.routes import router
from .service_layer.projector import Projector
from .settings import Settings

PACKAGE = "shopmesh_order_history"
ROUTING_KEYS = ("user.registered", "order.*")


def consumer_spec(settings: Settings) -> ConsumerSpec:
    """The queue order history consumes, as configured."""
    return ConsumerSpec(
        queue=settings.queue,
        routing_keys=ROUTING_KEYS,
        retry_delays=settings.retry_delays,
        prefetch=settings.prefetch,
    )


def _readiness(app: FastAPI) -> Sequence[ReadinessCheck]:
    checks: list[ReadinessCheck] = [app.state.db.ping]
    consumer: Consumer | None = app.state.consumer
    if consumer is not None:

        async def consumer_ready() -> None:
            if not consumer.ready.is_set():
                raise RuntimeError(f"not consuming {consumer.spec.queue} yet")

        checks.append(consumer_ready)
    return checks


def create_app(settings: Settings | None = None) -> FastAPI:
    """The order history app."""
    settings = settings or Settings()
    configure_logging(settings.service_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.run_migrations:
            await asyncio.to_thread(upgrade, PACKAGE, settings.database_url)
        db = Database(settings.database_url, max_size=settings.db_pool_size)
        await db.connect()
        read_model = PostgresReadModel(db, consumer=settings.service_name)
        projector = Projector(store=read_model, service=settings.service_name)
        background = Background()
        consumer: Consumer | None = None
        if settings.consumers_enabled:
            consumer = Consumer(
                service=settings.service_name,
                amqp_url=settings.amqp_url,
                spec=consumer_spec(settings),
                handler=projector.handle,
            )
            background.start("consumer", consumer.run)
        app.state.settings = settings
        app.state.db = db
        app.state.read_model = read_model
        app.state.projector = projector
        app.state.consumer = consumer
        try:
            yield
        finally:
            await background.stop()
            await db.close()

    return create_service_app(
        service=settings.service_name,
        lifespan=lifespan,
        routers=[router, admin_router(settings.amqp_url, [settings.queue])],
        readiness=_readiness,
    )
