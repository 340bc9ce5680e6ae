"""Order history's settings from the environment (SHOPMESH_ prefix)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shopmesh_order_history.settings import Settings


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        pytest.param({}, "retry_delays", (1.0, 5.0, 30.0), id="default-delays"),
        pytest.param({"SHOPMESH_RETRY_DELAYS": "0.2, 0.4"}, "retry_delays", (0.2, 0.4), id="csv"),
        pytest.param({}, "queue", "order-history", id="default-queue"),
        pytest.param({"SHOPMESH_PREFETCH": "4"}, "prefetch", 4, id="prefetch"),
        pytest.param(
            {},
            "database_url",
            "postgresql://shopmesh:shopmesh@127.0.0.1:15432/order_history",
            id="db",
        ),
    ],
)
def test_settings_from_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], field: str, expected: object
) -> None:
    for name in (
        "SHOPMESH_RETRY_DELAYS",
        "SHOPMESH_QUEUE",
        "SHOPMESH_PREFETCH",
        "SHOPMESH_POSTGRES_URL",
        "SHOPMESH_DATABASE",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert getattr(Settings(), field) == expected


def test_negative_delay_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(retry_delays=(-1.0,))
