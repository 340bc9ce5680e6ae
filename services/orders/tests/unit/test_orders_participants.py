"""How a participant's HTTP answer becomes a saga outcome, one row per answer."""

from __future__ import annotations

import json

import pytest

from shopmesh_common.resilience import DownstreamResponse
from shopmesh_orders.adapters.participants import classify
from shopmesh_orders.domain.saga import Outcome, Step


def answer(status: int, problem_type: str | None = None) -> DownstreamResponse:
    body = json.dumps({"type": problem_type, "status": status}).encode() if problem_type else b"{}"
    return DownstreamResponse(status=status, body=body)


@pytest.mark.parametrize(
    ("step", "response", "outcome", "reason"),
    [
        (Step.RESERVE, answer(201), Outcome.OK, None),
        (Step.RESERVE, answer(200), Outcome.OK, None),
        (Step.RESERVE, answer(409, "urn:shopmesh:out-of-stock"), Outcome.REFUSED, "out_of_stock"),
        (
            Step.RESERVE,
            answer(422, "urn:shopmesh:validation-error"),
            Outcome.REFUSED,
            "invalid_items",
        ),
        (
            Step.RESERVE,
            answer(409, "urn:shopmesh:reservation-released"),
            Outcome.REFUSED,
            "reserve_refused",
        ),
        (
            Step.CHARGE,
            answer(402, "urn:shopmesh:payment-declined"),
            Outcome.REFUSED,
            "payment_declined",
        ),
        (
            Step.CHARGE,
            answer(409, "urn:shopmesh:order-refunded"),
            Outcome.REFUSED,
            "payment_refused",
        ),
        (
            Step.CHARGE,
            answer(409, "urn:shopmesh:idempotency-key-in-progress"),
            Outcome.UNCERTAIN,
            "charge: still in progress",
        ),
        (
            Step.CHARGE,
            answer(503, "urn:shopmesh:provider-error"),
            Outcome.UNCERTAIN,
            "charge: HTTP 503",
        ),
        (Step.CHARGE, answer(500), Outcome.UNCERTAIN, "charge: HTTP 500"),
        (Step.CHARGE, answer(429), Outcome.UNCERTAIN, "charge: HTTP 429"),
        (
            Step.COMMIT,
            answer(409, "urn:shopmesh:reservation-expired"),
            Outcome.REFUSED,
            "commit_refused",
        ),
        (Step.REFUND, answer(200), Outcome.OK, None),
        (Step.RELEASE, answer(504), Outcome.UNCERTAIN, "release: HTTP 504"),
        (
            Step.RELEASE,
            DownstreamResponse(status=409, body=b"not json"),
            Outcome.REFUSED,
            "release_refused",
        ),
    ],
)
def test_classify(
    step: Step, response: DownstreamResponse, outcome: Outcome, reason: str | None
) -> None:
    result = classify(step, response)
    assert (result.outcome, result.reason) == (outcome, reason)
