"""The order routes: POST /orders (202, the saga runs after), GET /orders/{id}."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from shopmesh_common.problems import Problem

from ..adapters import repository
from ..domain.model import OrderLine
from ..service_layer.placing import place_order
from .deps import CustomerId, IdempotencyKey
from .schemas import CreateOrder, OrderAccepted, OrderOut

router = APIRouter(prefix="/orders", tags=["orders"])


@router.post("", status_code=202, response_model=OrderAccepted)
async def create_order(
    body: CreateOrder, request: Request, customer: CustomerId, key: IdempotencyKey
) -> JSONResponse:
    """Accept an order; its saga ends it CONFIRMED or FAILED (poll GET /orders/{id})."""
    st = request.app.state
    placed = await place_order(
        db=st.db,
        keys=st.keys,
        runner=st.runner,
        customer_id=customer,
        items=[OrderLine(i.product_id, i.quantity) for i in body.items],
        idempotency_key=key,
        service=st.settings.service_name,
        step_timeout=timedelta(seconds=st.settings.step_timeout_seconds),
        lease=timedelta(seconds=st.settings.lease_seconds),
    )
    headers = {"Idempotent-Replayed": "true"} if placed.replayed else {}
    if placed.status == 202:
        headers["Location"] = f"/orders/{placed.body['id']}"
    return JSONResponse(placed.body, status_code=placed.status, headers=headers)


@router.get("/{order_id}", response_model=OrderOut)
async def get_order(
    order_id: uuid.UUID, request: Request, steps: Annotated[bool, Query()] = False
) -> OrderOut:
    """The order, its status and, when it failed, why (`steps=true` adds the saga log)."""
    async with request.app.state.db.connection() as conn:
        order = await repository.get(conn, order_id)
        log = await repository.steps(conn, order_id) if order and steps else None
    if order is None:
        raise Problem(404, f"no order {order_id}", type_="order-not-found")
    return OrderOut(
        id=str(order.id),
        customer_id=order.customer_id,
        status=order.status.value,
        reason=order.saga.reason,
        items=[line.as_dict() for line in order.items],
        total_cents=order.total_cents,
        steps=log,
    )
