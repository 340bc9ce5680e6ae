"""Accounts: sign-up, login and lookup, each one unit of work.

Used by the API routes. Sign-up writes the user row and its `user.registered` event in one
transaction (the outbox relay publishes the event only if the user committed). Login
answers an unknown email and a wrong password with the same error after the same amount
of argon2 work, so neither the answer nor its timing tells which addresses have accounts.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from shopmesh_common.db import Database
from shopmesh_common.events import Event
from shopmesh_common.outbox import add_event

from ..adapters import users_repo
from ..adapters.passwords import Passwords
from ..domain.errors import EmailTaken, InvalidCredentials, UserNotFound
from ..domain.tokens import TokenPolicy, issue_access_token
from ..domain.users import User, normalize_email
from ..metrics import LOGINS, SIGNUPS
from .keyring import KeyRing


@dataclass(frozen=True)
class IssuedToken:
    """An access token and how long it lives."""

    access_token: str
    expires_in: int


class Accounts:
    """The account use cases, wired to the database, the hasher and the key ring."""

    def __init__(
        self,
        *,
        db: Database,
        passwords: Passwords,
        keyring: KeyRing,
        policy: TokenPolicy,
        service: str,
    ) -> None:
        self._db = db
        self._passwords = passwords
        self._keyring = keyring
        self._policy = policy
        self._service = service

    async def sign_up(self, *, email: str, password: str, name: str) -> User:
        """Create an account and record `user.registered`; raises EmailTaken."""
        user = User(id=uuid.uuid4(), email=normalize_email(email), name=name)
        # Hashed before the transaction: no pooled connection waits on 50 ms of CPU.
        password_hash = await self._passwords.hash(password)
        async with self._db.transaction() as conn:
            if not await users_repo.insert_user(conn, user=user, password_hash=password_hash):
                raise EmailTaken()
            event = Event(
                event_type="user.registered",
                aggregate_type="user",
                aggregate_id=str(user.id),
                sequence=1,
                data={"user_id": str(user.id), "email": user.email, "name": user.name},
            )
            await add_event(conn, event, service=self._service)
        SIGNUPS.labels(self._service).inc()
        return user

    async def log_in(self, *, email: str, password: str) -> IssuedToken:
        """An access token for valid credentials; raises InvalidCredentials otherwise."""
        async with self._db.connection() as conn:
            found = await users_repo.find_credentials(conn, normalize_email(email))
        # An unknown email is verified against a dummy hash: the same argon2 work as a
        # wrong password, so timing does not reveal which addresses have accounts.
        ok = await self._passwords.verify(found[1] if found else None, password)
        if found is None or not ok:
            LOGINS.labels(self._service, "rejected").inc()
            raise InvalidCredentials()
        key = await self._keyring.signing_key()
        token = issue_access_token(self._policy, key=key, user=found[0])
        LOGINS.labels(self._service, "ok").inc()
        return IssuedToken(access_token=token, expires_in=self._policy.ttl_seconds)

    async def get_user(self, user_id: uuid.UUID) -> User:
        """The user with this id; raises UserNotFound."""
        async with self._db.connection() as conn:
            user = await users_repo.get_user(conn, user_id)
        if user is None:
            raise UserNotFound()
        return user
