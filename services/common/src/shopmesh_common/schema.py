"""DDL for the tables the common patterns need, called from each service's first migration.

`create_outbox`, `create_inbox` and `create_idempotency_keys` keep the three tables the same
in every service database, so the relay, the consumers and the idempotency store can be
written once.
"""

from __future__ import annotations

from typing import Any

OUTBOX_DDL = """
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    event_type    text NOT NULL,
    aggregate_type text NOT NULL,
    aggregate_id  text NOT NULL,
    payload       jsonb NOT NULL,
    headers       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    sent_at       timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;
"""

INBOX_DDL = """
CREATE TABLE inbox (
    consumer     text NOT NULL,
    event_id     uuid NOT NULL,
    event_type   text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);
"""

IDEMPOTENCY_DDL = """
CREATE TABLE idempotency_keys (
    scope           text NOT NULL,
    key             text NOT NULL,
    request_hash    text NOT NULL,
    state           text NOT NULL CHECK (state IN ('in_progress', 'done')),
    response_status integer,
    response_body   jsonb,
    locked_until    timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);
"""


def _execute_all(op: Any, ddl: str) -> None:
    for statement in ddl.split(";"):
        if statement.strip():
            op.execute(statement)


def create_outbox(op: Any) -> None:
    """Create the outbox table (alembic `op`)."""
    _execute_all(op, OUTBOX_DDL)


def create_inbox(op: Any) -> None:
    """Create the inbox table (alembic `op`)."""
    _execute_all(op, INBOX_DDL)


def create_idempotency_keys(op: Any) -> None:
    """Create the idempotency key table (alembic `op`)."""
    _execute_all(op, IDEMPOTENCY_DDL)
