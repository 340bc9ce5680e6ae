"""Idempotency-Key for unsafe requests (POST /orders, payments' charge), kept in PostgreSQL.

Outcomes for a request carrying a key (scope = the endpoint, request hash = its body):
- new key: `begin` records it `in_progress` with a lease and the caller proceeds;
- same key, same body, finished: the first response (status and body) is replayed;
- same key, different body: 422;
- same key while the first request still runs (lease not over): 409;
- missing or malformed key where one is required: 400 (`parse_key`);
- keys expire after 24 h (`ttl`), after which the key is new again.

`complete(conn, ...)` stores the response in the caller's business transaction, so the key
is done exactly when the business write committed; `release` forgets an in-progress key
whose request failed, so the client's retry runs it again. A process killed mid-request
leaves an in-progress key whose lease runs out; the next retry takes it over.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

import asyncpg
from prometheus_client import Counter

from .db import Database
from .problems import Problem

HEADER = "Idempotency-Key"
DEFAULT_TTL = timedelta(hours=24)
_KEY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")

IDEMPOTENT_REPLAYS = Counter(
    "shopmesh_idempotent_replays_total",
    "Requests answered from a stored Idempotency-Key response",
    ["service", "scope"],
)
IDEMPOTENCY_CONFLICTS = Counter(
    "shopmesh_idempotency_conflicts_total",
    "Idempotency-Key reuse refused (409 in progress, 422 different body)",
    ["service", "scope", "status"],
)


@dataclass(frozen=True)
class Replay:
    """The stored first response for a finished key."""

    status: int
    body: Any


def _scope_label(scope: str) -> str:
    # "orders:<customer id>" -> "orders": one series per endpoint, not per customer.
    return scope.split(":", 1)[0]


def parse_key(value: str | None) -> str:
    """The key from the header value, or a 400 problem when missing or malformed."""
    if value is None or not value.strip():
        raise Problem(400, f"the {HEADER} header is required", type_="idempotency-key-missing")
    if not _KEY_RE.match(value):
        raise Problem(
            400,
            f"{HEADER} must be 8-128 characters of letters, digits, '.', '_', ':' or '-'",
            type_="idempotency-key-malformed",
        )
    return value


def hash_request(*parts: Any) -> str:
    """A stable hash of the request's meaningful parts (body, caller)."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


class Decision(StrEnum):
    """What to do with a request whose key is already stored."""

    REPLAY = "replay"  # finished, same body: answer with the stored response
    MISMATCH = "mismatch"  # same key, different body: 422
    IN_PROGRESS = "in_progress"  # the first request still runs: 409
    TAKE_OVER = "take_over"  # the first request died (lease over): run this one


def decide(*, stored_hash: str, state: str, leased: bool, request_hash: str) -> Decision:
    """The pure rule behind `IdempotencyStore.begin` for a key that exists."""
    if stored_hash != request_hash:
        return Decision.MISMATCH
    if state == "done":
        return Decision.REPLAY
    return Decision.IN_PROGRESS if leased else Decision.TAKE_OVER


class IdempotencyStore:
    """Keys of one service, in its own database (table `idempotency_keys`)."""

    def __init__(
        self,
        db: Database,
        *,
        service: str,
        ttl: timedelta = DEFAULT_TTL,
        lease: timedelta = timedelta(seconds=30),
    ) -> None:
        self._db = db
        self._service = service
        self._ttl = ttl
        self._lease = lease

    async def begin(self, *, scope: str, key: str, request_hash: str) -> Replay | None:
        """None to proceed with a new request; a Replay; or raises 409 / 422."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM idempotency_keys WHERE scope = $1 AND key = $2 AND expires_at < now()",
                scope,
                key,
            )
            inserted = await conn.fetchval(
                """INSERT INTO idempotency_keys
                     (scope, key, request_hash, state, locked_until, expires_at)
                   VALUES ($1, $2, $3, 'in_progress', now() + $4::interval, now() + $5::interval)
                   ON CONFLICT DO NOTHING RETURNING true""",
                scope,
                key,
                request_hash,
                self._lease,
                self._ttl,
            )
            if inserted:
                return None
            row = await conn.fetchrow(
                """SELECT request_hash, state, response_status, response_body,
                          locked_until > now() AS leased
                   FROM idempotency_keys WHERE scope = $1 AND key = $2 FOR UPDATE""",
                scope,
                key,
            )
            if row is None:  # expired and deleted by a concurrent request: treat as busy
                self._conflict(scope, 409)
                raise Problem(409, "a request with this Idempotency-Key is in progress")
            return await self._judge(conn, row, scope=scope, key=key, request_hash=request_hash)

    async def _judge(
        self,
        conn: asyncpg.Connection,
        row: asyncpg.Record,
        *,
        scope: str,
        key: str,
        request_hash: str,
    ) -> Replay | None:
        decision = decide(
            stored_hash=row["request_hash"],
            state=row["state"],
            leased=row["leased"],
            request_hash=request_hash,
        )
        if decision is Decision.MISMATCH:
            self._conflict(scope, 422)
            raise Problem(
                422,
                "this Idempotency-Key was used with a different request body",
                type_="idempotency-key-reused",
            )
        if decision is Decision.REPLAY:
            IDEMPOTENT_REPLAYS.labels(self._service, _scope_label(scope)).inc()
            return Replay(status=row["response_status"], body=row["response_body"])
        if decision is Decision.IN_PROGRESS:
            self._conflict(scope, 409)
            raise Problem(
                409,
                "a request with this Idempotency-Key is still in progress; retry later",
                type_="idempotency-key-in-progress",
                headers={"Retry-After": "1"},
            )
        # TAKE_OVER: the first request died mid-way (its lease ran out); this one goes on.
        await conn.execute(
            """UPDATE idempotency_keys SET locked_until = now() + $3::interval
               WHERE scope = $1 AND key = $2""",
            scope,
            key,
            self._lease,
        )
        return None

    def _conflict(self, scope: str, status: int) -> None:
        IDEMPOTENCY_CONFLICTS.labels(self._service, _scope_label(scope), str(status)).inc()

    @staticmethod
    async def complete(
        conn: asyncpg.Connection, *, scope: str, key: str, status: int, body: Any
    ) -> None:
        """Store the response in the caller's (business) transaction."""
        await conn.execute(
            """UPDATE idempotency_keys
               SET state = 'done', response_status = $3, response_body = $4
               WHERE scope = $1 AND key = $2""",
            scope,
            key,
            status,
            body,
        )

    async def release(self, *, scope: str, key: str) -> None:
        """Forget an in-progress key whose request failed, so a retry runs again."""
        async with self._db.transaction() as conn:
            await conn.execute(
                "DELETE FROM idempotency_keys"
                " WHERE scope = $1 AND key = $2 AND state = 'in_progress'",
                scope,
                key,
            )

    async def purge_expired(self) -> int:
        """Delete expired keys; returns how many."""
        async with self._db.transaction() as conn:
            result: str = await conn.execute(
                "DELETE FROM idempotency_keys WHERE expires_at < now()"
            )
        return int(result.split()[-1])
