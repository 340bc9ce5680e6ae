"""Alembic environment of payments' migrations (see shopmesh_common.migrate)."""

from shopmesh_common.migrate import run_env

run_env()
