"""Idempotency-Key outcomes as a table: header parsing, request hashing, stored-key decisions."""

from __future__ import annotations

import pytest

from shopmesh_common.idempotency import Decision, decide, hash_request, parse_key
from shopmesh_common.problems import Problem


@pytest.mark.parametrize(
    ("stored_hash", "state", "leased", "request_hash", "decision"),
    [
        ("h1", "done", False, "h1", Decision.REPLAY),
        ("h1", "done", True, "h1", Decision.REPLAY),
        ("h1", "done", False, "h2", Decision.MISMATCH),
        ("h1", "in_progress", True, "h2", Decision.MISMATCH),
        ("h1", "in_progress", True, "h1", Decision.IN_PROGRESS),
        ("h1", "in_progress", False, "h1", Decision.TAKE_OVER),
    ],
)
def test_decide(
    stored_hash: str, state: str, leased: bool, request_hash: str, decision: Decision
) -> None:
    assert (
        decide(stored_hash=stored_hash, state=state, leased=leased, request_hash=request_hash)
        is decision
    )


@pytest.mark.parametrize(
    ("header", "accepted"),
    [
        ("order-2026-11-25-0001", True),
        ("3f2b9c1e-6a47-4d1a-9a8e-0c2f6f3b1d22", True),
        ("a" * 128, True),
        (None, False),
        ("", False),
        ("   ", False),
        ("short", False),
        ("a" * 129, False),
        ("has space in it", False),
        ("-starts-with-dash", False),
        ("semi;colon;key", False),
        ("ключ-ключ-ключ", False),
    ],
)
def test_parse_key(header: str | None, accepted: bool) -> None:
    if accepted:
        assert parse_key(header) == header
    else:
        with pytest.raises(Problem) as refused:
            parse_key(header)
        assert refused.value.status == 400
        assert "Idempotency-Key" in refused.value.detail


def test_hash_ignores_key_order_but_not_values() -> None:
    assert hash_request({"a": 1, "b": [1, 2]}) == hash_request({"b": [1, 2], "a": 1})
    assert hash_request({"a": 1}) != hash_request({"a": 2})
    assert hash_request([1, 2]) != hash_request([2, 1])
