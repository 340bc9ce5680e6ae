"""requeue.py: a booked re-check comes due once, at its time, and an earlier one wins."""

from __future__ import annotations

import pytest

from shopmesh_operator.requeue import Requeue

CART, ORDERS = ("shop", "cart"), ("shop", "orders")


@pytest.mark.parametrize(
    ("bookings", "at", "due"),
    [
        pytest.param([(CART, 10.0)], 9.9, [], id="not-yet"),
        pytest.param([(CART, 10.0)], 10.0, [CART], id="on-time"),
        pytest.param([(CART, 10.0), (CART, 5.0)], 5.0, [CART], id="earlier-booking-wins"),
        pytest.param([(CART, 5.0), (CART, 10.0)], 5.0, [CART], id="later-booking-ignored"),
        pytest.param([(ORDERS, 1.0), (CART, 2.0)], 3.0, [CART, ORDERS], id="several-sorted"),
    ],
)
def test_take_due(
    bookings: list[tuple[tuple[str, str], float]], at: float, due: list[object]
) -> None:
    requeue = Requeue()
    for ref, seconds in bookings:
        requeue.later(ref, seconds, now=100.0)
    assert requeue.take_due(now=100.0 + at) == due
    assert requeue.take_due(now=1e9) == ([] if due else [CART])  # taken once; the rest stays
