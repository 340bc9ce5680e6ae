"""FastAPI dependencies of order history's routes: the read model the app was built with."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..service_layer.ports import ReadModel


def get_read_model(request: Request) -> ReadModel:
    """The read model on app.state (set by `main.create_app`'s lifespan)."""
    store: ReadModel = request.app.state.read_model
    return store


Store = Annotated[ReadModel, Depends(get_read_model)]
