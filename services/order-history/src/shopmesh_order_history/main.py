"""The composition root of order history: `create_app()` (uvicorn --factory).

Wires the PostgreSQL read model and the `Projector` together, consumes `user.registered`
and `order.*` from the settings' queue (with delayed retries and a dead-letter queue), and
mounts `GET /users/{id}/orders` and the dead-letter admin routes next to the shared health
and metrics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shopmesh_common.consumers import consumer_lifespan, create_consumer_app

from .adapters.repository import PostgresReadModel
from .api.routes import router
from .service_layer.projector import Projector
from .settings import Settings

PACKAGE = "shopmesh_order_history"
ROUTING_KEYS = ("user.registered", "order.*")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The order history app."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with consumer_lifespan(app, settings, package=PACKAGE) as runtime:
            read_model = PostgresReadModel(runtime.db, service=settings.service_name)
            projector = Projector(store=read_model, service=settings.service_name)
            runtime.consume(ROUTING_KEYS, projector.handle)
            app.state.read_model = read_model
            app.state.projector = projector
            yield

    return create_consumer_app(settings, lifespan=lifespan, routers=[router])
