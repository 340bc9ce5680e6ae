"""FastAPI dependencies of inventory's routes: the database and settings on app.state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from shopmesh_common.db import Database

from ..settings import Settings
from .schemas import ORDER_ID_PATTERN, PRODUCT_ID_PATTERN


def get_db(request: Request) -> Database:
    """The service's database (opened by the lifespan)."""
    db: Database = request.app.state.db
    return db


def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


DatabaseDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
OrderIdPath = Annotated[str, Path(pattern=ORDER_ID_PATTERN, max_length=128)]
ProductIdPath = Annotated[str, Path(pattern=PRODUCT_ID_PATTERN, max_length=64)]
