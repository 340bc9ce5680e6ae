"""Fixtures for notifications' integration tests on the real stack.

Each test gets a fresh migrated database, its own consumer queue (random name, deleted at
the end, so parallel runs never share messages), an in-memory recording SMTP server (a
real aiosmtpd server on a free loopback port, so the tests do not depend on the stack's
shared sink) and the app running in-process with tiny retry delays.
"""

from __future__ import annotations

import email
import socket
from collections.abc import AsyncIterator
from email import policy
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from shopmesh_common.testing import (
    STACK_AMQP_URL,
    STACK_POSTGRES_URL,
    eventually,
    fresh_database,
    publish_events,
    publish_raw,
    ready_app_client,
    scratch_queue,
)
from shopmesh_notifications.main import create_app
from shopmesh_notifications.settings import Settings

RETRY_DELAYS = (0.2, 0.4, 1.0, 2.0)


class RecordingHandler:
    """An aiosmtpd handler that keeps every accepted message; can refuse the next few."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[Message] = []
        self.refuse_next = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse_next > 0:
            self.refuse_next -= 1
            return "451 4.3.0 try again later"
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"

    def for_order(self, order_id: str) -> list[Message]:
        """The accepted messages about `order_id` (other tests' mail is ignored)."""
        return [m for m in self.messages if m["X-ShopMesh-Order-Id"] == order_id]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def smtp() -> Any:
    handler = RecordingHandler(_free_port())
    controller = Controller(handler, hostname="127.0.0.1", port=handler.port)
    controller.start()
    yield handler
    controller.stop()


@pytest.fixture
async def queue() -> AsyncIterator[str]:
    async with scratch_queue("notifications", retry_delays=RETRY_DELAYS) as name:
        yield name


@pytest.fixture
async def database() -> AsyncIterator[str]:
    async with fresh_database("shopmesh_notifications", prefix="notifications") as url:
        yield url.rsplit("/", 1)[1]


@pytest.fixture
def settings(database: str, queue: str, smtp: RecordingHandler) -> Settings:
    return Settings(
        postgres_url=STACK_POSTGRES_URL,
        database=database,
        amqp_url=STACK_AMQP_URL,
        queue=queue,
        retry_delays=RETRY_DELAYS,
        prefetch=8,
        smtp_port=smtp.port,
        smtp_timeout_seconds=5,
        sweep_interval_seconds=0.2,
        sweep_after_seconds=10,
    )


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with ready_app_client(create_app(settings)) as http:
        yield http


class Tools:
    """The helpers the tests use, handed out as one fixture."""

    eventually = staticmethod(eventually)
    publish = staticmethod(publish_events)
    publish_raw = staticmethod(publish_raw)


@pytest.fixture
def tools() -> Tools:
    return Tools()
