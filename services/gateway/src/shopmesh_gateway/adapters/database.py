"""Create the gateway's own database when it does not exist yet.

The local stack creates one database per service it knows (ci/stack/stack.sh); the gateway
does not rely on that: at start-up it creates `gateway` itself if the role may, and
replicas starting together are fine (the loser of the race sees DuplicateDatabaseError).
Used by main's lifespan before migrating.
"""

from __future__ import annotations

import logging
import re

import asyncpg

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


async def ensure_database(postgres_url: str, name: str) -> None:
    """CREATE DATABASE `name` on the server at `postgres_url` unless it exists."""
    if not _NAME.match(name):
        raise ValueError(f"not a plain database name: {name!r}")
    admin = await asyncpg.connect(f"{postgres_url.rstrip('/')}/postgres")
    try:
        if await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
            log.info("created database %s", name)
        except asyncpg.DuplicateDatabaseError:
            pass
    finally:
        await admin.close()
