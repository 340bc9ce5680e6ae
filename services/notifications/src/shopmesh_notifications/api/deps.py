"""FastAPI dependencies of notifications' routes: the store the app was built with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..service_layer.ports import EmailStore


def get_store(request: Request) -> EmailStore:
    """The email store on app.state (set by `main.create_app`'s lifespan)."""
    store: EmailStore = request.app.state.store
    return store


Store = Annotated[EmailStore, Depends(get_store)]
