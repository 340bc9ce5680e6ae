"""The database adapter: one asyncpg pool per service and a unit of work on top of it.

The services write SQL through asyncpg directly (no ORM on the hot path: the saga, the
outbox and the idempotency store are a handful of statements each, and asyncpg is the
fastest PostgreSQL driver for asyncio); Alembic (see `migrate`) owns the schema.
`Database.transaction()` is the unit of work: everything inside commits together or not
at all, which is what the outbox and idempotency keys rely on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


class Database:
    """A connection pool to one service database."""

    def __init__(self, url: str, *, min_size: int = 1, max_size: int = 10) -> None:
        self.url = url
        self._min_size = min_size
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None

    async def connect(self) -> None:
        """Open the pool (idempotent)."""
        if self._pool is None:
            self._pool = await asyncpg.create_pool(
                self.url,
                min_size=self._min_size,
                max_size=self._max_size,
                init=_init_connection,
            )

    async def close(self) -> None:
        """Close the pool."""
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    @property
    def pool(self) -> asyncpg.Pool:
        """The open pool; raises if `connect` was not awaited."""
        if self._pool is None:
            raise RuntimeError("database not connected")
        return self._pool

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A unit of work: commits when the block ends, rolls back on any exception."""
        async with self.pool.acquire() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A pooled connection without an explicit transaction (reads)."""
        async with self.pool.acquire() as conn:
            yield conn

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        """Run a read query."""
        async with self.pool.acquire() as conn:
            return list(await conn.fetch(query, *args))

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        """Run a read query returning at most one row."""
        async with self.pool.acquire() as conn:
            row: asyncpg.Record | None = await conn.fetchrow(query, *args)
            return row

    async def ping(self) -> None:
        """Raise unless the database answers."""
        async with self.pool.acquire() as conn:
            await conn.fetchval("SELECT 1")
