"""The composition root of notifications: `create_app()` (uvicorn --factory).

Wires the PostgreSQL store, the SMTP mailer and the `Notifier` together, consumes
`user.registered`, `order.confirmed` and `order.failed` from the settings' queue (with
delayed retries and a dead-letter queue), runs the pending-email sweeper, and mounts
`GET /emails` and the dead-letter admin routes next to the shared health and metrics.
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

from .adapters.mailer import SmtpMailer
from .adapters.repository import PostgresEmailStore
from .api.routes import router
from .service_layer.handlers import Notifier, run_sweeper
from .settings import Settings

PACKAGE = "shopmesh_notifications"
ROUTING_KEYS = ("user.registered", "order.confirmed", "order.failed")


def consumer_spec(settings: Settings) -> ConsumerSpec:
    """The queue notifications consumes, as configured."""
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
    """The notifications app."""
    settings = settings or Settings()
    configure_logging(settings.service_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.run_migrations:
            await asyncio.to_thread(upgrade, PACKAGE, settings.database_url)
        db = Database(settings.database_url, max_size=settings.db_pool_size)
        await db.connect()
        store = PostgresEmailStore(db, consumer=settings.service_name)
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
        background = Background()
        consumer: Consumer | None = None
        if settings.consumers_enabled:
            consumer = Consumer(
                service=settings.service_name,
                amqp_url=settings.amqp_url,
                spec=consumer_spec(settings),
                handler=notifier.handle,
            )
            background.start("consumer", consumer.run)
        if settings.sweeper_enabled:
            background.start(
                "email-sweeper",
                lambda: run_sweeper(
                    notifier,
                    interval_seconds=settings.sweep_interval_seconds,
                    older_than_seconds=settings.sweep_after_seconds,
                ),
            )
        app.state.settings = settings
        app.state.db = db
        app.state.store = store
        app.state.notifier = notifier
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
