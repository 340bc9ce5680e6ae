"""Order history's route: `GET /users/{id}/orders`, the "my orders" page.

Mounted by `main.create_app`, next to the dead-letter admin routes and the shared health and
metrics routes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from shopmesh_common.problems import Problem

from ..service_layer.queries import CustomerUnknownError, customer_orders
from .deps import Store
from .schemas import CustomerOrdersOut

router = APIRouter(tags=["orders"])


@router.get("/users/{user_id}/orders")
async def list_customer_orders(
    store: Store,
    user_id: Annotated[str, Path(min_length=1, max_length=200)],
    status: Annotated[
        str | None, Query(min_length=1, max_length=32, pattern=r"^[A-Za-z_]+$")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> CustomerOrdersOut:
    """The customer and their orders, newest first; `status` narrows to one status."""
    try:
        result = await customer_orders(
            store, user_id, status=None if status is None else status.upper(), limit=limit
        )
    except CustomerUnknownError:
        raise Problem(
            404, f"no customer or order known for user {user_id!r}", type_="customer-not-found"
        ) from None
    return CustomerOrdersOut.of(result)
