"""FastAPI dependencies of payments' routes: database, idempotency store and provider."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Path, Request

from shopmesh_common.db import Database
from shopmesh_common.idempotency import HEADER, IdempotencyStore

from ..adapters.provider import SimulatedProvider
from .schemas import ORDER_ID_PATTERN


def get_db(request: Request) -> Database:
    """The service's database (opened by the lifespan)."""
    db: Database = request.app.state.db
    return db


def get_store(request: Request) -> IdempotencyStore:
    """The Idempotency-Key store."""
    store: IdempotencyStore = request.app.state.idempotency
    return store


def get_provider(request: Request) -> SimulatedProvider:
    """This process's simulated provider (its knobs are per replica)."""
    provider: SimulatedProvider = request.app.state.provider
    return provider


DatabaseDep = Annotated[Database, Depends(get_db)]
StoreDep = Annotated[IdempotencyStore, Depends(get_store)]
ProviderDep = Annotated[SimulatedProvider, Depends(get_provider)]
IdempotencyKeyHeader = Annotated[str | None, Header(alias=HEADER)]
OrderIdPath = Annotated[str, Path(pattern=ORDER_ID_PATTERN, max_length=128)]
