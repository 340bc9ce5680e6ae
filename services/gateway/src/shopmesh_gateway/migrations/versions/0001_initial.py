"""API keys for machine clients (only a SHA-256 digest of each key is stored).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """CREATE TABLE api_keys (
            id          uuid PRIMARY KEY,
            name        text NOT NULL,
            key_hash    bytea NOT NULL CHECK (length(key_hash) = 32),
            key_prefix  text NOT NULL,
            scopes      text[] NOT NULL,
            created_at  timestamptz NOT NULL DEFAULT now(),
            revoked_at  timestamptz
        )"""
    )
    op.execute("CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS api_keys")
