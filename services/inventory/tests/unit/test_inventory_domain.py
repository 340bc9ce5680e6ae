"""Unit tests of inventory's domain: stock arithmetic and the reservation transition tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shopmesh_inventory.domain.reservations import (
    TRANSITIONS,
    Action,
    Line,
    Plan,
    Product,
    Reservation,
    ReservationStatus,
    ReserveVerdict,
    UnknownProducts,
    Verdict,
    decide,
    decide_reserve,
    move_stock,
    plan_reservation,
)
from shopmesh_inventory.domain.stock import OutOfStock, StockError, StockLevel

R, C, X = ReservationStatus.RESERVED, ReservationStatus.COMMITTED, ReservationStatus.RELEASED
NOW = datetime(2025, 1, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "action", "verdict"),
    [
        pytest.param(None, Action.COMMIT, Verdict.MISSING, id="commit-unknown-404"),
        pytest.param(R, Action.COMMIT, Verdict.APPLY, id="commit-reserved"),
        pytest.param(C, Action.COMMIT, Verdict.ALREADY, id="commit-again-idempotent"),
        pytest.param(X, Action.COMMIT, Verdict.REFUSE, id="commit-released-409"),
        pytest.param(None, Action.RELEASE, Verdict.TOMBSTONE, id="release-unknown-tombstone"),
        pytest.param(R, Action.RELEASE, Verdict.APPLY, id="release-reserved"),
        pytest.param(C, Action.RELEASE, Verdict.APPLY, id="release-committed-restocks"),
        pytest.param(X, Action.RELEASE, Verdict.ALREADY, id="release-again-idempotent"),
        pytest.param(R, Action.EXPIRE, Verdict.APPLY, id="expire-reserved"),
        pytest.param(C, Action.EXPIRE, Verdict.ALREADY, id="expire-committed-noop"),
        pytest.param(X, Action.EXPIRE, Verdict.ALREADY, id="expire-released-noop"),
        pytest.param(None, Action.EXPIRE, Verdict.MISSING, id="expire-unknown"),
    ],
)
def test_transition_table(
    status: ReservationStatus | None, action: Action, verdict: Verdict
) -> None:
    assert decide(status, action) is verdict


def test_transition_table_is_complete() -> None:
    states: list[ReservationStatus | None] = [None, *ReservationStatus]
    assert set(TRANSITIONS) == {(s, a) for s in states for a in Action}


def test_only_reserved_moves_and_committed_only_back() -> None:
    applied = {key for key, verdict in TRANSITIONS.items() if verdict is Verdict.APPLY}
    assert applied == {
        (R, Action.COMMIT),
        (R, Action.RELEASE),
        (R, Action.EXPIRE),
        (C, Action.RELEASE),
    }


@pytest.mark.parametrize(
    ("start", "move", "quantity", "after"),
    [
        pytest.param(StockLevel(10), "reserve", 3, StockLevel(7, 3, 0), id="reserve"),
        pytest.param(StockLevel(3), "reserve", 3, StockLevel(0, 3, 0), id="reserve-all"),
        pytest.param(StockLevel(7, 3, 0), "release", 3, StockLevel(10, 0, 0), id="release"),
        pytest.param(StockLevel(7, 3, 0), "commit", 2, StockLevel(7, 1, 2), id="commit"),
        pytest.param(StockLevel(0, 5, 5), "commit", 5, StockLevel(0, 0, 10), id="commit-all"),
        pytest.param(StockLevel(1, 2, 3), "unsell", 3, StockLevel(4, 2, 0), id="unsell"),
    ],
)
def test_stock_moves_keep_the_total(
    start: StockLevel, move: str, quantity: int, after: StockLevel
) -> None:
    moved = getattr(start, move)(quantity)
    assert moved == after
    assert moved.total == start.total


@pytest.mark.parametrize(
    ("start", "move", "quantity"),
    [
        pytest.param(StockLevel(2), "reserve", 3, id="reserve-more-than-available"),
        pytest.param(StockLevel(5, 1, 0), "release", 2, id="release-more-than-reserved"),
        pytest.param(StockLevel(5, 1, 0), "commit", 2, id="commit-more-than-reserved"),
        pytest.param(StockLevel(5, 1, 1), "unsell", 2, id="unsell-more-than-sold"),
        pytest.param(StockLevel(5), "reserve", 0, id="zero-quantity"),
        pytest.param(StockLevel(5, 5), "release", -1, id="negative-quantity"),
    ],
)
def test_impossible_stock_moves_raise(start: StockLevel, move: str, quantity: int) -> None:
    with pytest.raises(StockError):
        getattr(start, move)(quantity)


@pytest.mark.parametrize(
    ("start", "available", "after"),
    [
        pytest.param(StockLevel(3, 2, 5), 10, StockLevel(10, 2, 5), id="restock-keeps-held"),
        pytest.param(StockLevel(3, 2, 5), 0, StockLevel(0, 2, 5), id="restock-to-zero"),
    ],
)
def test_restock_sets_available_only(start: StockLevel, available: int, after: StockLevel) -> None:
    assert start.restock(available) == after


def test_negative_buckets_are_refused() -> None:
    with pytest.raises(StockError):
        StockLevel(-1)


def _reservation(
    status: ReservationStatus, lines: tuple[Line, ...], expires_at: datetime | None = NOW
) -> Reservation:
    total = sum(line.subtotal_cents for line in lines)
    return Reservation("o-1", status, lines, total, None, expires_at)


TWO_LINES = (Line("a", 2, 100), Line("b", 1, 250))


@pytest.mark.parametrize(
    ("existing", "requested", "verdict"),
    [
        pytest.param(None, [("a", 2)], ReserveVerdict.NEW, id="new"),
        pytest.param(
            _reservation(R, TWO_LINES),
            [("b", 1), ("a", 2)],
            ReserveVerdict.REPLAY,
            id="same-items-any-order",
        ),
        pytest.param(
            _reservation(C, TWO_LINES),
            [("a", 2), ("b", 1)],
            ReserveVerdict.REPLAY,
            id="committed-same-items",
        ),
        pytest.param(
            _reservation(R, TWO_LINES),
            [("a", 3), ("b", 1)],
            ReserveVerdict.MISMATCH,
            id="other-quantity",
        ),
        pytest.param(
            _reservation(R, TWO_LINES), [("a", 2)], ReserveVerdict.MISMATCH, id="fewer-items"
        ),
        pytest.param(
            _reservation(X, TWO_LINES),
            [("a", 2), ("b", 1)],
            ReserveVerdict.RELEASED,
            id="released",
        ),
        pytest.param(
            _reservation(X, (), None), [("a", 2)], ReserveVerdict.RELEASED, id="tombstone"
        ),
    ],
)
def test_decide_reserve(
    existing: Reservation | None, requested: list[tuple[str, int]], verdict: ReserveVerdict
) -> None:
    assert decide_reserve(existing, requested) is verdict


@pytest.mark.parametrize(
    ("status", "expires_at", "due"),
    [
        pytest.param(R, NOW - timedelta(seconds=1), True, id="reserved-past"),
        pytest.param(R, NOW, True, id="reserved-exactly-now"),
        pytest.param(R, NOW + timedelta(seconds=1), False, id="reserved-future"),
        pytest.param(C, NOW - timedelta(seconds=1), False, id="committed-never-due"),
        pytest.param(X, None, False, id="tombstone"),
    ],
)
def test_is_due(status: ReservationStatus, expires_at: datetime | None, due: bool) -> None:
    assert _reservation(status, TWO_LINES, expires_at).is_due(NOW) is due


CATALOGUE = {
    "a": Product("a", "A", 100, StockLevel(5)),
    "b": Product("b", "B", 250, StockLevel(1, 4, 0)),
}


def test_plan_prices_lines_and_reserves_all() -> None:
    plan = plan_reservation(CATALOGUE, [("a", 2), ("b", 1)])
    assert plan == Plan(
        (Line("a", 2, 100), Line("b", 1, 250)),
        {"a": StockLevel(3, 2, 0), "b": StockLevel(0, 5, 0)},
    )
    assert plan.total_cents == 450


@pytest.mark.parametrize(
    ("requested", "error"),
    [
        pytest.param([("a", 1), ("zz", 1), ("yy", 2)], UnknownProducts(("zz", "yy")), id="unknown"),
        pytest.param([("a", 6)], OutOfStock("a", 6, 5), id="short-first-line"),
        pytest.param([("a", 1), ("b", 2)], OutOfStock("b", 2, 1), id="short-second-line"),
        pytest.param([("b", 9), ("zz", 1)], UnknownProducts(("zz",)), id="unknown-before-stock"),
    ],
)
def test_plan_refuses_all_or_nothing(requested: list[tuple[str, int]], error: Exception) -> None:
    with pytest.raises(type(error)) as raised:
        plan_reservation(CATALOGUE, requested)
    assert raised.value == error


def test_out_of_stock_message_names_product_and_available() -> None:
    assert str(OutOfStock("a", 6, 5)) == "product 'a' is out of stock: requested 6, available 5"


@pytest.mark.parametrize(
    ("action", "after"),
    [
        pytest.param(
            Action.COMMIT, {"a": StockLevel(3, 0, 2), "b": StockLevel(0, 4, 1)}, id="commit"
        ),
        pytest.param(
            Action.RELEASE, {"a": StockLevel(5, 0, 0), "b": StockLevel(1, 4, 0)}, id="rel"
        ),
        pytest.param(Action.EXPIRE, {"a": StockLevel(5, 0, 0), "b": StockLevel(1, 4, 0)}, id="exp"),
    ],
)
def test_move_stock(action: Action, after: dict[str, StockLevel]) -> None:
    levels = {"a": StockLevel(3, 2, 0), "b": StockLevel(0, 5, 0)}
    moved = move_stock(levels, [Line("a", 2, 100), Line("b", 1, 250)], action)
    assert moved == after
    assert {k: v.total for k, v in moved.items()} == {k: v.total for k, v in levels.items()}
