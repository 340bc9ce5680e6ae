"""peering.py: which peers are alive, and kopf's rule for who is active."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shopmesh_operator.peering import is_active, live_priorities

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def peer(priority: int, seconds_ago: float, lifetime: int = 60) -> dict[str, Any]:
    seen = (NOW - timedelta(seconds=seconds_ago)).isoformat()
    return {"priority": priority, "lastseen": seen, "lifetime": lifetime}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param({"a": peer(5, 10), "b": peer(9, 30)}, [5, 9], id="both-alive"),
        pytest.param({"a": peer(5, 10), "b": peer(9, 61)}, [5], id="one-expired"),
        pytest.param({"a": peer(5, 10, lifetime=5)}, [], id="short-lifetime-expired"),
        pytest.param({"a": "garbage", "b": {"priority": 3}}, [], id="malformed-entries-ignored"),
        pytest.param({}, [], id="nobody"),
    ],
)
def test_live_priorities(status: dict[str, Any], expected: list[int]) -> None:
    assert sorted(live_priorities([{"status": status}], NOW)) == expected


@pytest.mark.parametrize(
    ("mine", "priorities", "expected"),
    [
        pytest.param(10, [10], True, id="alone"),
        pytest.param(10, [10, 5], True, id="highest"),
        pytest.param(10, [10, 50], False, id="a-higher-peer"),
        pytest.param(10, [10, 10], False, id="a-tie-pauses-both-like-kopf"),
        pytest.param(10, [], True, id="not-registered-yet"),
    ],
)
def test_is_active(mine: int, priorities: list[int], expected: bool) -> None:
    assert is_active(mine, priorities) is expected
