"""Alembic migrations for every service, without an alembic.ini per service.

Each service keeps its revisions in `<package>/migrations/versions/` and a two-line
`env.py` that calls `run_env()`. `upgrade(package, database_url)` is what services call on
start-up (in a worker thread, since Alembic drives its own event loop for asyncpg) and what
`python -m shopmesh_common.migrate <package>` runs by hand. A PostgreSQL advisory lock
makes concurrent replicas migrate one after the other.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import os
import sys

from alembic import command, context
from alembic.config import Config
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

_LOCK_KEY = 7_346_201  # one advisory lock id for "schema migration in progress"


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


def upgrade(package: str, database_url: str, revision: str = "head") -> None:
    """Bring the database up to `revision` (blocking; call via asyncio.to_thread)."""
    command.upgrade(alembic_config(package, database_url), revision)


def _run_sync(connection: Connection) -> None:
    connection.execute(text(f"SELECT pg_advisory_lock({_LOCK_KEY})"))
    try:
        context.configure(connection=connection, target_metadata=None)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        connection.execute(text(f"SELECT pg_advisory_unlock({_LOCK_KEY})"))
        connection.commit()


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
