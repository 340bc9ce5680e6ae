"""SQL for the `signing_keys` table (asyncpg), used by the key ring.

Private keys are stored as PEM in the database, which keeps this demo self-contained; a
real deployment keeps them in a KMS or at least a Kubernetes Secret (and signs through the
KMS), which is out of scope here. A retired key's PEM is deleted.

`lock_keys` takes a transaction-scoped advisory lock: every change to the ring (the first
key at start-up, a rotation) runs under it, so two replicas starting at once create one
key, not two, and two rotations do not interleave.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import asyncpg

from ..domain.keys import SigningKey, load_private_pem, private_pem

_KEYS_LOCK = 7_346_311  # advisory lock id: "the signing key ring is being changed"


async def lock_keys(conn: asyncpg.Connection) -> None:
    """Serialize ring changes until the caller's transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _KEYS_LOCK)


async def load_keys(conn: asyncpg.Connection) -> list[SigningKey]:
    """Every key that is not retired yet."""
    rows = await conn.fetch(
        """SELECT kid, private_pem, public_jwk, active_from, retire_at, retired
           FROM signing_keys WHERE NOT retired ORDER BY active_from"""
    )
    return [
        SigningKey(
            kid=row["kid"],
            private_key=load_private_pem(row["private_pem"]) if row["private_pem"] else None,
            public_jwk=row["public_jwk"],
            active_from=row["active_from"],
            retire_at=row["retire_at"],
            retired=row["retired"],
        )
        for row in rows
    ]


async def save_keys(
    conn: asyncpg.Connection,
    *,
    before: Sequence[SigningKey],
    after: Sequence[SigningKey],
    now: datetime,
) -> None:
    """Write the difference between two states of the ring (new keys, new retirements)."""
    old = {k.kid: k for k in before}
    for key in after:
        previous = old.get(key.kid)
        if previous is None:
            if key.private_key is None:
                raise ValueError(f"new key {key.kid} has no private part")
            await conn.execute(
                """INSERT INTO signing_keys
                       (kid, private_pem, public_jwk, created_at, active_from, retire_at, retired)
                   VALUES ($1, $2, $3, $4, $5, $6, $7)""",
                key.kid,
                private_pem(key.private_key),
                key.public_jwk,
                now,
                key.active_from,
                key.retire_at,
                key.retired,
            )
        elif (previous.retire_at, previous.retired) != (key.retire_at, key.retired):
            await conn.execute(
                """UPDATE signing_keys
                   SET retire_at = $2, retired = $3,
                       private_pem = CASE WHEN $3 THEN NULL ELSE private_pem END
                   WHERE kid = $1""",
                key.kid,
                key.retire_at,
                key.retired,
            )
