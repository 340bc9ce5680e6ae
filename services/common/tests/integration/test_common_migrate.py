"""`migrate.upgrade` on the real PostgreSQL: replicas that start together (processes, like
pods) all succeed and migrate once, because each waits for the package's advisory lock,
held on a connection of its own, before Alembic starts."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic.script import ScriptDirectory

from shopmesh_common.migrate import alembic_config, lock_key, upgrade
from shopmesh_common.testing import STACK_POSTGRES_URL, eventually

pytestmark = pytest.mark.integration

PACKAGE = "shopmesh_orders"


@pytest.fixture
async def empty_database() -> AsyncIterator[str]:
    """A new database with no schema at all (a first start); dropped afterwards."""
    name = f"migrate_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(f"{STACK_POSTGRES_URL}/postgres")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield f"{STACK_POSTGRES_URL}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def versions(url: str) -> list[str]:
    conn = await asyncpg.connect(url)
    try:
        return [row["version_num"] for row in await conn.fetch("SELECT * FROM alembic_version")]
    finally:
        await conn.close()


def head(url: str) -> str:
    revision = ScriptDirectory.from_config(alembic_config(PACKAGE, url)).get_current_head()
    assert revision is not None
    return revision


async def migrate_in_a_process(url: str) -> int:
    """`python -m shopmesh_common.migrate`, as a replica starting up would; its exit code."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shopmesh_common.migrate", PACKAGE, url
    )
    return await process.wait()


@pytest.mark.parametrize("replicas", [2, 4])
async def test_replicas_starting_together_all_migrate(empty_database: str, replicas: int) -> None:
    codes = await asyncio.gather(*(migrate_in_a_process(empty_database) for _ in range(replicas)))
    assert codes == [0] * replicas
    assert await versions(empty_database) == [head(empty_database)]


async def test_an_upgrade_waits_for_the_one_holding_the_lock(empty_database: str) -> None:
    key = lock_key(PACKAGE)
    holder = await asyncpg.connect(empty_database)
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", key)
        waiting = asyncio.create_task(asyncio.to_thread(upgrade, PACKAGE, empty_database))

        async def blocked_on_the_lock() -> bool:
            # A bigint advisory key shows in pg_locks as its two 32-bit halves.
            count = await holder.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND classid = $1 AND objid = $2 AND objsubid = 1",
                (key >> 32) & 0xFFFFFFFF,
                key & 0xFFFFFFFF,
            )
            return count == 1

        await eventually(blocked_on_the_lock)
        assert await holder.fetchval("SELECT to_regclass('alembic_version')") is None
    finally:
        await holder.close()  # lets go of the lock
    await waiting
    assert await versions(empty_database) == [head(empty_database)]
