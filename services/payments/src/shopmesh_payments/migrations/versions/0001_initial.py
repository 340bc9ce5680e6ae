"""Payments' first schema: charges (one per order) and the Idempotency-Key table.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00

A real charge has a customer and a positive amount; only the REFUND_BEFORE_CHARGE tombstone
has neither. A decline reason exists exactly on DECLINED rows.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

from shopmesh_common.schema import create_idempotency_keys

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHARGES = """CREATE TABLE charges (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    order_id       text NOT NULL UNIQUE CHECK (length(order_id) BETWEEN 1 AND 128),
    customer_id    text,
    amount_cents   bigint NOT NULL CHECK (amount_cents >= 0),
    status         text NOT NULL
                   CHECK (status IN ('CHARGED', 'DECLINED', 'REFUNDED', 'REFUND_BEFORE_CHARGE')),
    decline_reason text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT real_charge CHECK (
        status = 'REFUND_BEFORE_CHARGE' OR (customer_id IS NOT NULL AND amount_cents > 0)),
    CONSTRAINT decline_reason_on_declines
        CHECK ((status = 'DECLINED') = (decline_reason IS NOT NULL))
)"""


def upgrade() -> None:
    """Create charges and idempotency_keys."""
    op.execute(CHARGES)
    create_idempotency_keys(op)


def downgrade() -> None:
    """Drop them."""
    op.execute("DROP TABLE idempotency_keys")
    op.execute("DROP TABLE charges")
