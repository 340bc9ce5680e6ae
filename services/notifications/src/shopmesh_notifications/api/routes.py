"""Notifications' routes: `GET /emails` lists what was sent or is pending (support, tests).

Mounted by `main.create_app`, next to the dead-letter admin routes and the shared health and
metrics routes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from .deps import Store
from .schemas import EmailOut

router = APIRouter(tags=["emails"])


@router.get("/emails")
async def list_emails(
    store: Store,
    order_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[EmailOut]:
    """Emails, newest first; `order_id` narrows to one order's email."""
    return [EmailOut.of(e) for e in await store.list_emails(order_id=order_id, limit=limit)]
