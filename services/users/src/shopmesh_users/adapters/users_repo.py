"""SQL for the `users` table (asyncpg), used by the sign-up, login and lookup use cases.

Every function takes the caller's connection, so writes join the caller's unit of work
(the user row and its `user.registered` outbox event commit together).
"""

from __future__ import annotations

import uuid

import asyncpg

from ..domain.users import User


async def insert_user(conn: asyncpg.Connection, *, user: User, password_hash: str) -> bool:
    """Insert `user`; False (and nothing written) if its email is already taken."""
    inserted = await conn.fetchval(
        """INSERT INTO users (id, email, name, password_hash) VALUES ($1, $2, $3, $4)
           ON CONFLICT (email) DO NOTHING RETURNING true""",
        user.id,
        user.email,
        user.name,
        password_hash,
    )
    return bool(inserted)


async def find_credentials(conn: asyncpg.Connection, email: str) -> tuple[User, str] | None:
    """The user with this (normalized) email and their password hash, or None."""
    row = await conn.fetchrow(
        "SELECT id, email, name, password_hash FROM users WHERE email = $1", email
    )
    if row is None:
        return None
    return User(id=row["id"], email=row["email"], name=row["name"]), row["password_hash"]


async def get_user(conn: asyncpg.Connection, user_id: uuid.UUID) -> User | None:
    """The user with this id, or None."""
    row = await conn.fetchrow("SELECT id, email, name FROM users WHERE id = $1", user_id)
    if row is None:
        return None
    return User(id=row["id"], email=row["email"], name=row["name"])
