"""Order history's settings: its own queue and database by default.

The shared consumer settings (queue, retry delays, prefetch) are tested with
`shopmesh_common.consumers` in services/common/tests/unit/test_common_consumers.py.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shopmesh_order_history.settings import Settings


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        pytest.param("queue", "order-history", id="default-queue"),
        pytest.param("service_name", "order-history", id="service"),
        pytest.param(
            "database_url",
            "postgresql://shopmesh:shopmesh@127.0.0.1:15432/order_history",
            id="db",
        ),
    ],
)
def test_default_settings(monkeypatch: pytest.MonkeyPatch, field: str, expected: object) -> None:
    for name in (
        "SHOPMESH_QUEUE",
        "SHOPMESH_SERVICE_NAME",
        "SHOPMESH_POSTGRES_URL",
        "SHOPMESH_DATABASE",
    ):
        monkeypatch.delenv(name, raising=False)
    assert getattr(Settings(), field) == expected


def test_empty_queue_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(queue="")
