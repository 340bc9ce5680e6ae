"""Notifications' settings from the environment (SHOPMESH_ prefix)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shopmesh_notifications.settings import Settings


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        pytest.param({}, "retry_delays", (1.0, 5.0, 30.0), id="default-delays"),
        pytest.param({"SHOPMESH_RETRY_DELAYS": "0.2,0.4"}, "retry_delays", (0.2, 0.4), id="csv"),
        pytest.param({"SHOPMESH_RETRY_DELAYS": "[1, 2]"}, "retry_delays", (1.0, 2.0), id="json"),
        pytest.param({}, "queue", "notifications", id="default-queue"),
        pytest.param({"SHOPMESH_QUEUE": "n-2"}, "queue", "n-2", id="queue"),
        pytest.param({}, "smtp_port", 12525, id="default-smtp-port"),
        pytest.param({"SHOPMESH_SMTP_HOST": "mail.local"}, "smtp_host", "mail.local", id="host"),
        pytest.param({"SHOPMESH_SMTP_PORT": "2525"}, "smtp_port", 2525, id="port"),
        pytest.param(
            {},
            "database_url",
            "postgresql://shopmesh:shopmesh@127.0.0.1:15432/notifications",
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
        "SHOPMESH_SMTP_HOST",
        "SHOPMESH_SMTP_PORT",
        "SHOPMESH_POSTGRES_URL",
        "SHOPMESH_DATABASE",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert getattr(Settings(), field) == expected


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"retry_delays": (1.0, 0.0)}, id="zero-delay"),
        pytest.param({"send_lease_seconds": 5, "smtp_timeout_seconds": 10}, id="lease-too-short"),
        pytest.param({"prefetch": 0}, id="no-prefetch"),
    ],
)
def test_invalid_settings(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**kwargs)  # type: ignore[arg-type]
