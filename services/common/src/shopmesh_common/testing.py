"""Helpers for the services' integration tests on the real stack (`make stack-up`).

`fresh_database(prefix)` creates a throw-away database on the stack's PostgreSQL, migrated to
head for the given service package, and drops it afterwards; `app_client(app)` runs a
service app's lifespan and returns an httpx client bound to it in-process. Unit tests do
not use this module.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import httpx
from fastapi import FastAPI

from .migrate import upgrade

STACK_POSTGRES_URL = os.environ.get(
    "SHOPMESH_POSTGRES_URL", "postgresql://shopmesh:shopmesh@127.0.0.1:15432"
)
STACK_AMQP_URL = os.environ.get("SHOPMESH_AMQP_URL", "amqp://shopmesh:shopmesh@127.0.0.1:16672/")
STACK_REDIS_URL = os.environ.get("SHOPMESH_REDIS_URL", "redis://127.0.0.1:16379/0")


@asynccontextmanager
async def fresh_database(package: str, *, prefix: str = "test") -> AsyncIterator[str]:
    """A new database migrated with `package`'s migrations; yields its URL, then drops it."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(f"{STACK_POSTGRES_URL}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = f"{STACK_POSTGRES_URL}/{name}"
        await asyncio.to_thread(upgrade, package, url)
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@asynccontextmanager
async def app_client(
    app: FastAPI, *, base_url: str = "http://test"
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx.AsyncClient talking to `app` in-process, with its lifespan running."""
    from asgi_lifespan import LifespanManager

    async with LifespanManager(app, startup_timeout=60) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client
