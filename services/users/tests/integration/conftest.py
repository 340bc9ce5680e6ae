"""Fixtures for the users integration tests on the real stack (PostgreSQL, RabbitMQ).

`make_settings(db_url, **overrides)` builds Settings for a fresh test database: relay off,
migrations already applied by fresh_database, and a cheap argon2 so tests stay fast.
`sql(db_url, query)` runs one query on its own connection.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import pytest

from shopmesh_common.testing import STACK_POSTGRES_URL
from shopmesh_users.settings import Settings

MakeSettings = Callable[..., Settings]
Sql = Callable[..., Awaitable[Any]]


def _settings(db_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "postgres_url": STACK_POSTGRES_URL,
        "database": db_url.rsplit("/", 1)[1],
        "run_migrations": False,
        "relay_enabled": False,
        "argon2_time_cost": 1,
        "argon2_memory_cost_kib": 8,
        "argon2_parallelism": 1,
    }
    values.update(overrides)
    return Settings(**values)


async def _sql(db_url: str, query: str, *args: Any) -> Any:
    conn = await asyncpg.connect(db_url)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def make_settings() -> MakeSettings:
    """Settings for a test database (see the module docstring)."""
    return _settings


@pytest.fixture(scope="session")
def sql() -> Sql:
    """Run one query and return its first value."""
    return _sql
