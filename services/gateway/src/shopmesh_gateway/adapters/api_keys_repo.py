"""The api_keys table (asyncpg): insert, find an active key by its digest, list, revoke.

The secret itself is never written anywhere; only its SHA-256 digest (see
domain.api_keys). Used by service_layer.api_keys.
"""

from __future__ import annotations

import uuid
from typing import Any

from shopmesh_common.db import Database

from ..domain.api_keys import ApiKeyRecord, NewKey

_COLUMNS = "id, name, key_prefix, scopes, created_at, revoked_at"


def _record(row: Any) -> ApiKeyRecord:
    return ApiKeyRecord(
        id=str(row["id"]),
        name=row["name"],
        prefix=row["key_prefix"],
        scopes=tuple(row["scopes"]),
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
    )


async def insert(db: Database, *, name: str, scopes: list[str], key: NewKey) -> ApiKeyRecord:
    row = await db.fetchrow(
        f"""INSERT INTO api_keys (id, name, key_hash, key_prefix, scopes)
            VALUES ($1, $2, $3, $4, $5) RETURNING {_COLUMNS}""",
        uuid.uuid4(),
        name,
        key.digest,
        key.prefix,
        scopes,
    )
    assert row is not None
    return _record(row)


async def find_active(db: Database, digest: bytes) -> ApiKeyRecord | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL", digest
    )
    return None if row is None else _record(row)


async def list_all(db: Database) -> list[ApiKeyRecord]:
    rows = await db.fetch(f"SELECT {_COLUMNS} FROM api_keys ORDER BY created_at, id")
    return [_record(row) for row in rows]


async def revoke(db: Database, key_id: uuid.UUID) -> bool:
    """Mark the key revoked (the first revocation time stays); False if there is no such key."""
    row = await db.fetchrow(
        """UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
           WHERE id = $1 RETURNING id""",
        key_id,
    )
    return row is not None
