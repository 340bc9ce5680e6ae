"""The composition root of notifications: `create_app()` (uvicorn --factory).

Wires the PostgreSQL store, the SMTP mailer and the `Notifier` together, consumes
`user.registered`, `order.confirmed` and `order.failed` from the settings' queue (with
delayed retries and a dead-letter queue), runs the pending-email sweeper, and mounts
`GET /emails` and the dead-letter admin routes next to the shared health and metrics.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shopmesh_common.consumers import consumer_lifespan, create_consumer_app

from .adapters.mailer import SmtpMailer
from .adapters.repository import PostgresEmailStore
from .api.routes import router
from .service_layer.handlers import Notifier, run_sweeper
from .settings import Settings

PACKAGE = "shopmesh_notifications"
ROUTING_KEYS = ("user.registered", "order.confirmed", "order.failed")


def create_app(settings: Settings | None = None) -> FastAPI:
    """The notifications app."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with consumer_lifespan(app, settings, package=PACKAGE) as runtime:
            store = PostgresEmailStore(runtime.db, service=settings.service_name)
            mailer = SmtpMailer(
                host=settings.smtp_host,
                port=settings.smtp_port,
                sender=settings.mail_from,
                timeout_seconds=settings.smtp_timeout_seconds,
            )
            notifier = Notifier(
                store=store,
                mailer=mailer,
                service=settings.service_name,
                lease_seconds=settings.send_lease_seconds,
            )
            runtime.consume(ROUTING_KEYS, notifier.handle)
            if settings.sweeper_enabled:
                runtime.background.start(
                    "email-sweeper",
                    lambda: run_sweeper(
                        notifier,
                        interval_seconds=settings.sweep_interval_seconds,
                        older_than_seconds=settings.sweep_after_seconds,
                    ),
                )
            app.state.store = store
            app.state.notifier = notifier
            yield

    return create_consumer_app(settings, lifespan=lifespan, routers=[router])
