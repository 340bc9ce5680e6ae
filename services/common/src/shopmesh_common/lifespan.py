"""The lifespan skeleton every service shares; each `main.py` adds only its own wiring.

`service_lifespan(app, settings, package=...)` waits for the database to accept connections
(up to SHOPMESH_STARTUP_WAIT_SECONDS: its server may start after the service), migrates it (when
SHOPMESH_RUN_MIGRATIONS; `migrate.upgrade`, which takes a lock so that replicas starting
together migrate one after the other), connects it, puts `settings`, `db` and `background`
on `app.state`, and yields a `ServiceRuntime`. On the way out, in this order:

1. the background tasks stop (a task mid-work still holds a connection of the pool, and
   may still use a client that is about to close);
2. what the service registered with `runtime.on_close(...)` closes, last registered first;
3. the database closes, even when one of the above failed.

`database_readiness` is the readiness check of a service whose only condition is its
database. Used by every service's `main.py`, and by `consumers.consumer_lifespan`, which
adds the consumer on top.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
from fastapi import FastAPI
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from .app import Background, ReadinessCheck
from .db import Database
from .migrate import upgrade
from .outbox import OutboxRelay
from .settings import ServiceSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServiceRuntime:
    """What `service_lifespan` opened: the service's database and background tasks."""

    app: FastAPI
    settings: ServiceSettings
    db: Database
    background: Background = field(default_factory=Background)
    closers: AsyncExitStack = field(default_factory=AsyncExitStack, repr=False)

    def on_close(self, close: Callable[[], Awaitable[object]]) -> None:
        """Await `close()` when the service stops: after the background tasks, before the
        database; the last registered closes first."""
        self.closers.push_async_callback(close)

    def start_outbox_relay(self) -> OutboxRelay | None:
        """Publish the outbox as the `outbox-relay` task; None when SHOPMESH_RELAY_ENABLED
        is false."""
        if not self.settings.relay_enabled:
            return None
        relay = OutboxRelay(
            service=self.settings.service_name,
            database_url=self.settings.database_url,
            amqp_url=self.settings.amqp_url,
        )
        self.background.start("outbox-relay", relay.run)
        return relay


# A server that is not up yet, still starting, or has not created the database yet.
_NOT_YET = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.CannotConnectNowError,
    asyncpg.InvalidCatalogNameError,
)


async def wait_for_database(url: str, *, within: float) -> None:
    """Return once `url` accepts a connection; retry what a server that is starting answers
    for `within` seconds, then raise it. Anything else (a wrong password) raises at once."""
    retrying = AsyncRetrying(
        stop=stop_after_delay(within),
        wait=wait_exponential(multiplier=0.2, max=3),
        retry=retry_if_exception_type(_NOT_YET),
        before_sleep=lambda state: log.warning(
            "database not reachable yet (%r); retrying",
            state.outcome.exception() if state.outcome else None,
        ),
        reraise=True,
    )
    async for attempt in retrying:
        with attempt:
            connection = await asyncpg.connect(url, timeout=5)
            await connection.close()


@asynccontextmanager
async def service_lifespan(
    app: FastAPI, settings: ServiceSettings, *, package: str
) -> AsyncIterator[ServiceRuntime]:
    """Migrate `package` (if enabled) and connect the database; afterwards stop the
    background tasks, run the closers and close the database (see the module docstring)."""
    await wait_for_database(settings.database_url, within=settings.startup_wait_seconds)
    if settings.run_migrations:
        await asyncio.to_thread(upgrade, package, settings.database_url)
    db = Database(settings.database_url, max_size=settings.db_pool_size)
    await db.connect()
    runtime = ServiceRuntime(app=app, settings=settings, db=db)
    app.state.settings = settings
    app.state.db = db
    app.state.background = runtime.background
    try:
        async with runtime.closers:
            try:
                yield runtime
            finally:
                await runtime.background.stop()
    finally:
        await db.close()


def database_readiness(app: FastAPI) -> Sequence[ReadinessCheck]:
    """Ready when `app.state.db` answers."""
    db: Database = app.state.db
    return [db.ping]
