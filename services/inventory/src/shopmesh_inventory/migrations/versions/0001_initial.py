"""Inventory's first schema: products and reservations.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00

Stock buckets can never be negative (CHECK); a RESERVED reservation always has an expiry
and every reservation but a released tombstone has items. The partial index serves the
sweeper's "RESERVED and overdue" scan.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATEMENTS = (
    """CREATE TABLE products (
        id          text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
        name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        price_cents integer NOT NULL CHECK (price_cents > 0),
        available   integer NOT NULL CHECK (available >= 0),
        reserved    integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
        sold        integer NOT NULL DEFAULT 0 CHECK (sold >= 0)
    )""",
    """CREATE TABLE reservations (
        order_id    text PRIMARY KEY CHECK (length(order_id) BETWEEN 1 AND 128),
        status      text NOT NULL CHECK (status IN ('RESERVED', 'COMMITTED', 'RELEASED')),
        items       jsonb NOT NULL DEFAULT '[]'::jsonb CHECK (jsonb_typeof(items) = 'array'),
        total_cents bigint NOT NULL DEFAULT 0 CHECK (total_cents >= 0),
        reason      text,
        expires_at  timestamptz,
        created_at  timestamptz NOT NULL DEFAULT now(),
        updated_at  timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT reserved_expires CHECK (status <> 'RESERVED' OR expires_at IS NOT NULL),
        CONSTRAINT items_unless_tombstone
            CHECK (status = 'RELEASED' OR jsonb_array_length(items) > 0)
    )""",
    """CREATE INDEX reservations_due ON reservations (expires_at) WHERE status = 'RESERVED'""",
)


def upgrade() -> None:
    """Create products and reservations."""
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    """Drop them."""
    op.execute("DROP TABLE reservations")
    op.execute("DROP TABLE products")
