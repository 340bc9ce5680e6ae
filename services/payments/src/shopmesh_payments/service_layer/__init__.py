"""Payments use cases: charge (with its Idempotency-Key), refund, read."""
