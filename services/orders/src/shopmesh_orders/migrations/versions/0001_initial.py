"""Orders, the saga step log, the outbox and idempotency keys.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from shopmesh_common.schema import create_idempotency_keys, create_outbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE orders (
            id            uuid PRIMARY KEY,
            customer_id   text NOT NULL,
            status        text NOT NULL CHECK (status IN ('PENDING', 'RESERVED', 'CHARGED',
                                               'COMPENSATING', 'CONFIRMED', 'FAILED')),
            reason        text,
            items         jsonb NOT NULL,
            total_cents   integer CHECK (total_cents >= 0),
            compensations text[] NOT NULL DEFAULT '{}',
            step_deadline timestamptz NOT NULL,
            version       integer NOT NULL,
            lease_until   timestamptz NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT now(),
            updated_at    timestamptz NOT NULL DEFAULT now()
        )"""
    )
    op.execute(
        "CREATE INDEX orders_unfinished ON orders (lease_until)"
        " WHERE status NOT IN ('CONFIRMED', 'FAILED')"
    )
    op.execute("CREATE INDEX orders_customer ON orders (customer_id, created_at DESC)")
    op.execute(
        """CREATE TABLE saga_steps (
            order_id uuid NOT NULL REFERENCES orders (id),
            version  integer NOT NULL,
            step     text NOT NULL,
            outcome  text NOT NULL,
            detail   text,
            at       timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (order_id, version)
        )"""
    )
    create_outbox(op)
    create_idempotency_keys(op)


def downgrade() -> None:
    for table in ("idempotency_keys", "outbox", "saga_steps", "orders"):
        op.execute(f"DROP TABLE {table}")
