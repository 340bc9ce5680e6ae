"""The users service's composition root: `uvicorn --factory shopmesh_users.main:create_app`.

Start-up: migrate (when SHOPMESH_RUN_MIGRATIONS), open the pool, compute the dummy
password hash, make sure a signing key exists (one, even when replicas start together),
then start the outbox relay (when SHOPMESH_RELAY_ENABLED). Readiness is the database ping.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from shopmesh_common.app import create_app as create_service_app
from shopmesh_common.lifespan import database_readiness, service_lifespan

from .adapters.passwords import Passwords
from .api.routes import router
from .domain.tokens import TokenPolicy
from .service_layer.accounts import Accounts
from .service_layer.keyring import KeyRing
from .settings import Settings

PACKAGE = "shopmesh_users"


def create_app(settings: Settings | None = None) -> FastAPI:
    """The users app, configured from `settings` (default: the environment)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(app, settings, package=PACKAGE) as runtime:
            passwords = Passwords(
                time_cost=settings.argon2_time_cost,
                memory_cost_kib=settings.argon2_memory_cost_kib,
                parallelism=settings.argon2_parallelism,
                concurrency=settings.password_hash_concurrency,
            )
            await passwords.prepare()
            keyring = KeyRing(
                runtime.db,
                overlap_seconds=settings.key_overlap,
                reload_seconds=settings.key_reload_seconds,
            )
            await keyring.ensure_signing_key()
            policy = TokenPolicy(
                issuer=settings.issuer,
                audience=settings.audience,
                ttl_seconds=settings.access_token_ttl_seconds,
            )
            app.state.keyring = keyring
            app.state.accounts = Accounts(
                db=runtime.db,
                passwords=passwords,
                keyring=keyring,
                policy=policy,
                service=settings.service_name,
            )
            app.state.relay = runtime.start_outbox_relay()
            yield

    return create_service_app(
        service=settings.service_name,
        lifespan=lifespan,
        routers=[router],
        readiness=database_readiness,
    )
