"""Payments' HTTP routes (contract: services/README.md, "payments").

`POST /charges` (Idempotency-Key required), `POST /charges/{order_id}/refund`,
`GET /charges/{order_id}`, and the provider's knobs at `GET|PUT /admin/faults`. Errors are
problem+json; a charge's answer (also a 402 or 409) is replayed byte for byte for its key.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from shopmesh_common.idempotency import parse_key
from shopmesh_common.problems import PROBLEM_JSON

from ..service_layer import charges
from .deps import DatabaseDep, IdempotencyKeyHeader, OrderIdPath, ProviderDep, StoreDep
from .schemas import ChargeIn, ChargeOut, FaultsIn, FaultsOut, RefundOut

router = APIRouter()

REPLAYED_HEADER = "Idempotent-Replayed"


class CanonicalJSONResponse(JSONResponse):
    """JSON with sorted keys: PostgreSQL's jsonb reorders a stored body's keys, and a replay
    must be byte for byte the first answer."""

    def render(self, content: Any) -> bytes:
        return json.dumps(
            content, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()


@router.post(
    "/charges",
    status_code=201,
    tags=["charges"],
    responses={
        200: {"description": "the order was charged already (another key)"},
        402: {"description": "declined"},
        409: {"description": "order refunded"},
        503: {"description": "provider error: retry"},
    },
)
async def create_charge(
    body: ChargeIn,
    db: DatabaseDep,
    store: StoreDep,
    provider: ProviderDep,
    idempotency_key: IdempotencyKeyHeader = None,
) -> CanonicalJSONResponse:
    """Charge an order once per Idempotency-Key."""
    key = parse_key(idempotency_key)
    answer = await charges.charge(
        db=db,
        store=store,
        provider=provider,
        request=charges.ChargeRequest(body.order_id, body.customer_id, body.amount_cents),
        key=key,
    )
    return CanonicalJSONResponse(
        answer.body,
        status_code=answer.status,
        media_type=PROBLEM_JSON if answer.status >= 400 else "application/json",
        headers={REPLAYED_HEADER: "true"} if answer.replayed else None,
    )


@router.post("/charges/{order_id}/refund", tags=["charges"])
async def refund_charge(order_id: OrderIdPath, db: DatabaseDep, provider: ProviderDep) -> RefundOut:
    """Refund an order's charge; with none, remember it so a late charge is refused."""
    return RefundOut(**await charges.refund(db, provider=provider, order_id=order_id))


@router.get("/charges/{order_id}", tags=["charges"])
async def get_charge(order_id: OrderIdPath, db: DatabaseDep) -> ChargeOut:
    """An order's charge."""
    return ChargeOut.of(await charges.get(db, order_id=order_id))


@router.get("/admin/faults", tags=["admin"])
async def get_faults(provider: ProviderDep) -> FaultsOut:
    """The provider's knobs in force in this replica."""
    return FaultsOut.of(provider.faults)


@router.put("/admin/faults", tags=["admin"])
async def put_faults(body: FaultsIn, provider: ProviderDep) -> FaultsOut:
    """Change some of the provider's knobs (the others keep their values)."""
    provider.set_faults(body.apply_to(provider.faults))
    return FaultsOut.of(provider.faults)
