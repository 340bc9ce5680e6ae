"""Alembic migrations for every service, without an alembic.ini per service.

Each service keeps its revisions in `<package>/migrations/versions/` and a two-line
`env.py` that calls `run_env()`. `upgrade(package, database_url)` is what services call on
start-up (in a worker thread, since Alembic drives its own event loop for asyncpg) and what
`python -m shopmesh_common.migrate <package>` runs by hand.

Replicas that start together migrate one after the other: `upgrade` holds a session-level
PostgreSQL advisory lock, keyed by the package name (`lock_key`), on a connection of its
own, for the whole of Alembic's run. Alembic commits and closes its connection before the
lock is let go, so the next replica reads the new `alembic_version` and has nothing to do.
(A lock taken on Alembic's own connection would be let go before its transaction commits:
the next replica would then read the old version and run the same DDL again.)
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.resources
import os
import sys

import asyncpg
from alembic import command, context
from alembic.config import Config
from sqlalchemy import pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def _sqlalchemy_url(database_url: str) -> str:
    scheme, rest = database_url.split("://", 1)
    return f"postgresql+asyncpg://{rest}" if scheme.startswith("postgres") else database_url


def alembic_config(package: str, database_url: str) -> Config:
    """An Alembic config for `package`'s migrations against `database_url`."""
    location = importlib.resources.files(package) / "migrations"
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    cfg.set_main_option("sqlalchemy.url", _sqlalchemy_url(database_url))
    return cfg


def lock_key(package: str) -> int:
    """The advisory lock id of `package`'s migrations: a signed 64-bit number derived from
    its name (the same in every process, unlike `hash`)."""
    digest = hashlib.sha256(f"shopmesh.migrate:{package}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def upgrade(package: str, database_url: str, revision: str = "head") -> None:
    """Bring the database up to `revision`, one process at a time (blocking; call via
    asyncio.to_thread)."""
    asyncio.run(_upgrade_locked(package, database_url, revision))


async def _upgrade_locked(package: str, database_url: str, revision: str) -> None:
    config = alembic_config(package, database_url)
    lock = await asyncpg.connect(database_url)
    try:
        await lock.execute("SELECT pg_advisory_lock($1)", lock_key(package))
        # Alembic runs an event loop of its own (run_env), so not in this thread.
        await asyncio.to_thread(command.upgrade, config, revision)
    finally:
        await lock.close()  # the session ends, and its advisory lock with it


def _run_sync(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    async with engine.connect() as connection:
        await connection.run_sync(_run_sync)
    await engine.dispose()


def run_env() -> None:
    """The body of every service's migrations/env.py (online mode only)."""
    url = context.config.get_main_option("sqlalchemy.url")
    assert url, "sqlalchemy.url is not set"
    asyncio.run(_run_async(url))


def main() -> None:
    """`python -m shopmesh_common.migrate <package> [database_url]`."""
    if len(sys.argv) < 2:
        sys.exit("usage: python -m shopmesh_common.migrate <package> [database_url]")
    package = sys.argv[1]
    url = sys.argv[2] if len(sys.argv) > 2 else os.environ["SHOPMESH_DATABASE_URL"]
    upgrade(package, url)


if __name__ == "__main__":
    main()
