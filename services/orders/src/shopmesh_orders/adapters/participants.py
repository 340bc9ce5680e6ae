"""The saga's participants over HTTP: inventory and payments through the resilient client.

`Participants` is the plug point the runner calls (unit tests pass a fake); `HttpParticipants`
turns each answer into a `StepResult`: 2xx is OK, a definite 4xx is REFUSED with a reason,
and everything else (timeout, 5xx, circuit open, bulkhead full) is UNCERTAIN, which the saga
retries until the step's deadline. Every call carries an Idempotency-Key derived from the
order and the step, so the client's own retries and the saga's retries are safe.
"""

from __future__ import annotations

from typing import Any, Protocol

from shopmesh_common.resilience import ClientFactory, DownstreamResponse, DownstreamUnavailable

from ..domain.model import Order, OrderLine
from ..domain.saga import Outcome, Step, StepResult

# Problem types a participant answers with, mapped to the order's failure reason.
REASONS = {
    "urn:shopmesh:out-of-stock": "out_of_stock",
    "urn:shopmesh:payment-declined": "payment_declined",
    "urn:shopmesh:order-refunded": "payment_refused",
}


class Participants(Protocol):
    """What the saga asks of inventory and payments."""

    async def call(self, step: Step, order: Order) -> tuple[StepResult, Order]:
        """Run `step` for `order`; returns the classified answer and the order updated
        with what the step taught (prices and total after a reservation)."""
        ...


def classify(step: Step, response: DownstreamResponse) -> StepResult:
    """A participant's HTTP answer as a saga outcome."""
    if 200 <= response.status < 300:
        return StepResult(Outcome.OK)
    if response.status >= 500 or response.status in (408, 429):
        return StepResult(Outcome.UNCERTAIN, f"{step}: HTTP {response.status}")
    problem_type = ""
    try:
        body = response.json()
        problem_type = body.get("type", "") if isinstance(body, dict) else ""
    except ValueError:
        pass
    if problem_type == "urn:shopmesh:idempotency-key-in-progress":
        # Our own earlier attempt is still running there: ask again later.
        return StepResult(Outcome.UNCERTAIN, f"{step}: still in progress")
    if response.status == 422 and step is Step.RESERVE:
        return StepResult(Outcome.REFUSED, "invalid_items")
    reason = REASONS.get(problem_type, f"{step}_refused")
    return StepResult(Outcome.REFUSED, reason)


class HttpParticipants:
    """Inventory and payments reached through `clients["inventory"]` / `clients["payments"]`."""

    def __init__(self, clients: ClientFactory) -> None:
        self._clients = clients

    async def call(self, step: Step, order: Order) -> tuple[StepResult, Order]:
        """See `Participants.call`."""
        method, downstream, path, body = self._request(step, order)
        headers = {"Idempotency-Key": f"order-{order.id}-{step}"}
        try:
            response = await self._clients[downstream].request(
                method, path, json=body, headers=headers
            )
        except DownstreamUnavailable as exc:
            return StepResult(Outcome.UNCERTAIN, f"{step}: {exc.reason}"), order
        result = classify(step, response)
        if step is Step.RESERVE and result.outcome is Outcome.OK:
            order = _priced(order, response.json())
        return result, order

    @staticmethod
    def _request(step: Step, order: Order) -> tuple[str, str, str, Any]:
        oid = str(order.id)
        if step is Step.RESERVE:
            items = [{"product_id": i.product_id, "quantity": i.quantity} for i in order.items]
            return "POST", "inventory", "/reservations", {"order_id": oid, "items": items}
        if step is Step.CHARGE:
            body = {
                "order_id": oid,
                "customer_id": order.customer_id,
                "amount_cents": order.total_cents,
            }
            return "POST", "payments", "/charges", body
        if step is Step.COMMIT:
            return "POST", "inventory", f"/reservations/{oid}/commit", None
        if step is Step.REFUND:
            return "POST", "payments", f"/charges/{oid}/refund", None
        return "POST", "inventory", f"/reservations/{oid}/release", None


def _priced(order: Order, reservation: dict[str, Any]) -> Order:
    prices = {i["product_id"]: i["unit_price_cents"] for i in reservation.get("items", [])}
    items = tuple(
        OrderLine(line.product_id, line.quantity, prices.get(line.product_id))
        for line in order.items
    )
    total = reservation.get("total_cents")
    if total is None:
        total = sum(line.quantity * (line.unit_price_cents or 0) for line in items)
    return Order(
        id=order.id, customer_id=order.customer_id, items=items, saga=order.saga, total_cents=total
    )
