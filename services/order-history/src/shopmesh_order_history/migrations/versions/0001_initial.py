"""The read model (customers, order_views) and the inbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from shopmesh_common.schema import create_inbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE customers (
            id         text PRIMARY KEY,
            name       text NOT NULL,
            email      text NOT NULL,
            updated_at timestamptz NOT NULL
        )"""
    )
    op.execute(
        """CREATE TABLE order_views (
            order_id    text PRIMARY KEY,
            customer_id text NOT NULL,
            status      text NOT NULL,
            reason      text,
            items       jsonb,
            total_cents bigint CHECK (total_cents >= 0),
            placed_at   timestamptz,
            updated_at  timestamptz NOT NULL,
            version     integer NOT NULL
        )"""
    )
    op.execute(
        "CREATE INDEX order_views_by_customer"
        " ON order_views (customer_id, (COALESCE(placed_at, updated_at)) DESC)"
    )
    create_inbox(op)


def downgrade() -> None:
    for table in ("inbox", "order_views", "customers"):
        op.execute(f"DROP TABLE {table}")
