"""Users, signing keys and the outbox.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

from shopmesh_common.schema import create_outbox

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Emails are stored lower-cased (the CHECK keeps every writer honest), so a plain unique
    # index gives citext's case-insensitive uniqueness without the extension.
    op.execute(
        """CREATE TABLE users (
            id            uuid PRIMARY KEY,
            email         text NOT NULL CHECK (email = lower(email)),
            name          text NOT NULL,
            password_hash text NOT NULL,
            created_at    timestamptz NOT NULL DEFAULT now()
        )"""
    )
    op.execute("CREATE UNIQUE INDEX users_email_key ON users (email)")
    # private_pem is NULL once a key is retired: a retired key can never sign again.
    op.execute(
        """CREATE TABLE signing_keys (
            kid          text PRIMARY KEY,
            private_pem  text,
            public_jwk   jsonb NOT NULL,
            created_at   timestamptz NOT NULL DEFAULT now(),
            active_from  timestamptz NOT NULL,
            retire_at    timestamptz,
            retired      boolean NOT NULL DEFAULT false,
            CHECK (retired OR private_pem IS NOT NULL)
        )"""
    )
    create_outbox(op)


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS outbox")
    op.execute("DROP TABLE IF EXISTS signing_keys")
    op.execute("DROP TABLE IF EXISTS users")
