"""Password hashing with argon2id (argon2-cffi), off the event loop.

Used by the sign-up and login use cases. A hash or a verification costs about 50 ms of CPU
and `memory_cost` KiB of memory, so it runs in a worker thread (argon2-cffi releases the
GIL) and at most `concurrency` run at once: a burst of logins queues instead of starving
the event loop or exhausting memory. `verify(None, ...)` checks the password against a
dummy hash, so that a login for an unknown email costs the same time as a wrong password.
"""

from __future__ import annotations

import asyncio
import secrets

import argon2
from argon2.exceptions import InvalidHashError, VerificationError


class Passwords:
    """An argon2id hasher with bounded, threaded hashing and verification."""

    def __init__(
        self, *, time_cost: int, memory_cost_kib: int, parallelism: int, concurrency: int
    ) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_cost_kib, parallelism=parallelism
        )
        self._slots = asyncio.Semaphore(concurrency)
        self._dummy_hash: str | None = None

    async def prepare(self) -> None:
        """Compute the dummy hash (at start-up, so the first unknown-email login is not slower)."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(24))

    async def hash(self, password: str) -> str:
        """The argon2id hash of `password` (salted, encoded with its parameters)."""
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True if `password` matches; None (unknown user) verifies a dummy hash and is False."""
        await self.prepare()
        assert self._dummy_hash is not None
        async with self._slots:
            ok = await asyncio.to_thread(self._check, password_hash or self._dummy_hash, password)
        return ok and password_hash is not None

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
