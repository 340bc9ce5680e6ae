"""Alembic environment for the gateway: see shopmesh_common.migrate."""

from shopmesh_common.migrate import run_env

run_env()
