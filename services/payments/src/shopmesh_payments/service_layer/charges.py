"""Charge (behind its Idempotency-Key), refund and read an order's charge.

A charge: `IdempotencyStore.begin` (replay / 409 / 422), then a short transaction that
answers at once when the order already has a final charge, then the provider call outside
any transaction (it may be slow), then one transaction that records the answer and stores
it for the key together (`complete`). The stored answer is a status and a JSON body, the
same for the first response and every replay: a decline (402) and a refused order (409)
are final answers and are stored too; a provider error (503) is not: the key is released
so the client's retry runs again. A hang is served after the commit, so a caller that gave
up finds the charge recorded and must refund it. Used by api.routes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import asyncpg

from shopmesh_common.db import Database
from shopmesh_common.idempotency import IdempotencyStore, hash_request
from shopmesh_common.problems import Problem

from ..adapters import repository as repo
from ..adapters.provider import ProviderAnswer, ProviderError, SimulatedProvider
from ..domain.charges import (
    Charge,
    ChargeStatus,
    ChargeVerdict,
    RefundVerdict,
    decide_charge,
    decide_refund,
    refund_answer,
)
from ..metrics import Outcome, count

log = logging.getLogger(__name__)

SCOPE = "charges"
INSTANCE = "/charges"


@dataclass(frozen=True)
class ChargeRequest:
    """What the client asked to charge (the body of `POST /charges`)."""

    order_id: str
    customer_id: str
    amount_cents: int


@dataclass(frozen=True)
class Answer:
    """An HTTP answer as stored for an Idempotency-Key: status and JSON body."""

    status: int
    body: dict[str, Any]
    replayed: bool = False


def charge_body(charge: Charge) -> dict[str, Any]:
    """The JSON of a charge in a charge answer."""
    return {
        "id": str(charge.id),
        "order_id": charge.order_id,
        "customer_id": charge.customer_id,
        "amount_cents": charge.amount_cents,
        "status": charge.status.value,
    }


def _final_answer(charge: Charge | None) -> Answer | None:
    """The answer for an order whose charge is settled already; None to ask the provider."""
    verdict = decide_charge(charge.status if charge else None)
    if charge is None or verdict is ChargeVerdict.ATTEMPT:
        return None
    if verdict is ChargeVerdict.EXISTING:
        return Answer(200, charge_body(charge))
    problem = Problem(
        409,
        f"order {charge.order_id!r} was refunded ({charge.status.value}); it cannot be charged",
        type_="order-refunded",
        order_id=charge.order_id,
        charge_status=charge.status.value,
    )
    return Answer(409, problem.body(INSTANCE))


async def charge(
    *,
    db: Database,
    store: IdempotencyStore,
    provider: SimulatedProvider,
    request: ChargeRequest,
    key: str,
) -> Answer:
    """Charge an order once per Idempotency-Key (see the module docstring)."""
    request_hash = hash_request(request.order_id, request.customer_id, request.amount_cents)
    replay = await store.begin(scope=SCOPE, key=key, request_hash=request_hash)
    if replay is not None:
        return Answer(replay.status, replay.body, replayed=True)
    try:
        answer, hang = await _charge_new(
            db=db, store=store, provider=provider, request=request, key=key
        )
    except Exception:
        # Nothing was stored for the key (a stored key is 'done' and release leaves it):
        # let the client's retry run the request again.
        await store.release(scope=SCOPE, key=key)
        raise
    if hang:
        log.info("charge of order %s recorded; holding the answer back", request.order_id)
        await provider.hang()
    return answer


async def _charge_new(
    *,
    db: Database,
    store: IdempotencyStore,
    provider: SimulatedProvider,
    request: ChargeRequest,
    key: str,
) -> tuple[Answer, bool]:
    async with db.transaction() as conn:
        await repo.lock_order(conn, request.order_id)
        settled = _final_answer(await repo.get_charge(conn, request.order_id))
        if settled is not None:
            await store.complete(
                conn, scope=SCOPE, key=key, status=settled.status, body=settled.body
            )
            return settled, False
    try:
        provided = await provider.charge(amount_cents=request.amount_cents)
    except ProviderError as exc:
        count(Outcome.PROVIDER_ERROR)
        raise Problem(503, str(exc), type_="provider-error", headers={"Retry-After": "1"}) from exc
    async with db.transaction() as conn:
        answer = await _record(conn, request=request, provided=provided)
        await store.complete(conn, scope=SCOPE, key=key, status=answer.status, body=answer.body)
    if answer.status == 201:
        count(Outcome.CHARGED)
    elif answer.status == 402:
        count(Outcome.DECLINED)
    return answer, answer.status == 201 and provided.hang


async def _record(
    conn: asyncpg.Connection, *, request: ChargeRequest, provided: ProviderAnswer
) -> Answer:
    await repo.lock_order(conn, request.order_id)
    settled = _final_answer(await repo.get_charge(conn, request.order_id, lock=True))
    if settled is not None:  # another key charged, or the saga refunded, while we waited
        log.warning("order %s settled during the provider call", request.order_id)
        return settled
    status = ChargeStatus.CHARGED if provided.approved else ChargeStatus.DECLINED
    recorded = await repo.record_attempt(
        conn,
        order_id=request.order_id,
        customer_id=request.customer_id,
        amount_cents=request.amount_cents,
        status=status,
        decline_reason=provided.decline_reason,
    )
    if provided.approved:
        return Answer(201, charge_body(recorded))
    problem = Problem(
        402,
        f"the payment for order {request.order_id!r} was declined: {provided.decline_reason}",
        type_="payment-declined",
        order_id=request.order_id,
        charge_id=str(recorded.id),
        decline_reason=provided.decline_reason,
    )
    return Answer(402, problem.body(INSTANCE))


async def refund(db: Database, *, provider: SimulatedProvider, order_id: str) -> dict[str, str]:
    """Give an order's money back, or record that there was none (idempotent)."""
    async with db.transaction() as conn:
        await repo.lock_order(conn, order_id)
        current = await repo.get_charge(conn, order_id, lock=True)
        verdict = decide_refund(current.status if current else None)
        if current is None or verdict is RefundVerdict.TOMBSTONE:
            current = await repo.insert_tombstone(conn, order_id)
        elif verdict is RefundVerdict.REFUND:
            # Inside the lock: a concurrent refund waits and then finds REFUNDED.
            await provider.refund(amount_cents=current.amount_cents)
            current = await repo.set_status(conn, order_id, ChargeStatus.REFUNDED)
    if verdict is RefundVerdict.REFUND:
        count(Outcome.REFUNDED)
    return {"order_id": order_id, "status": refund_answer(current.status)}


async def get(db: Database, *, order_id: str) -> Charge:
    """The order's charge, or 404."""
    async with db.connection() as conn:
        current = await repo.get_charge(conn, order_id)
    if current is None:
        raise Problem(404, f"no charge for order {order_id!r}", type_="charge-not-found")
    return current
