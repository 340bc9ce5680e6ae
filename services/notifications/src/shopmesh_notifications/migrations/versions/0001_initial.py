"""Recipients (the projection of user.registered), emails (one per order) and the inbox.

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
        """CREATE TABLE recipients (
            user_id    text PRIMARY KEY,
            email      text NOT NULL,
            name       text NOT NULL,
            updated_at timestamptz NOT NULL
        )"""
    )
    op.execute(
        """CREATE TABLE emails (
            order_id       text PRIMARY KEY,
            kind           text NOT NULL CHECK (kind IN ('confirmed', 'failed')),
            customer_id    text NOT NULL,
            recipient      text NOT NULL,
            recipient_name text NOT NULL,
            subject        text NOT NULL,
            body           text NOT NULL,
            message_id     text NOT NULL,
            state          text NOT NULL CHECK (state IN ('pending', 'sent')),
            attempts       integer NOT NULL DEFAULT 0,
            locked_until   timestamptz,
            last_error     text,
            created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
            sent_at        timestamptz
        )"""
    )
    op.execute("CREATE INDEX emails_pending ON emails (created_at) WHERE state = 'pending'")
    create_inbox(op)


def downgrade() -> None:
    for table in ("inbox", "emails", "recipients"):
        op.execute(f"DROP TABLE {table}")
