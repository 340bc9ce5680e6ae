"""Notifications' own settings from the environment (SHOPMESH_ prefix).

The shared consumer settings (queue, retry delays, prefetch) are tested with
`shopmesh_common.consumers` in services/common/tests/unit/test_common_consumers.py.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shopmesh_notifications.settings import Settings


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        pytest.param({}, "queue", "notifications", id="default-queue"),
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
        pytest.param({"send_lease_seconds": 5, "smtp_timeout_seconds": 10}, id="lease-too-short"),
        pytest.param({"smtp_port": 0}, id="no-smtp-port"),
        pytest.param({"queue": ""}, id="empty-queue"),
    ],
)
def test_invalid_settings(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Settings(**kwargs)  # type: ignore[arg-type]
