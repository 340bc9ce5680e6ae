"""`shopmesh_common.consumers`: the consumer settings from the environment, the consumer
started (or not) as a background task, the readiness and routes of a consumer service and
its lifespan (with a fake database: the real one is exercised by the services' tests)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from shopmesh_common.app import Background, no_lifespan
from shopmesh_common.broker import Consumer, ConsumerSpec
from shopmesh_common.consumers import (
    ConsumerSettings,
    QueueName,
    consumer_lifespan,
    consumer_ready,
    create_consumer_app,
    readiness_checks,
    start_consumer,
)
from shopmesh_common.events import Event

ENVIRONMENT = (
    "SHOPMESH_QUEUE",
    "SHOPMESH_RETRY_DELAYS",
    "SHOPMESH_PREFETCH",
    "SHOPMESH_CONSUMERS_ENABLED",
    "SHOPMESH_SERVICE_NAME",
)


class ShopSettings(ConsumerSettings):
    """A consumer service's settings, the way notifications and order-history write theirs."""

    service_name: str = "shop"
    queue: QueueName = "shop"


class RecordingBackground(Background):
    """Records the tasks it is asked to start instead of running them."""

    def __init__(self) -> None:
        super().__init__()
        self.started: list[str] = []

    def start(self, name: str, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.started.append(name)


async def handle(event: Event) -> None:
    """A handler that is never called here."""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        pytest.param({}, "retry_delays", (1.0, 5.0, 30.0), id="default-delays"),
        pytest.param({"SHOPMESH_RETRY_DELAYS": "0.2,0.4"}, "retry_delays", (0.2, 0.4), id="csv"),
        pytest.param(
            {"SHOPMESH_RETRY_DELAYS": " 0.2, 0.4 "}, "retry_delays", (0.2, 0.4), id="csv-spaces"
        ),
        pytest.param({"SHOPMESH_RETRY_DELAYS": "[1, 2]"}, "retry_delays", (1.0, 2.0), id="json"),
        pytest.param({"SHOPMESH_RETRY_DELAYS": "[]"}, "retry_delays", (), id="no-retries"),
        pytest.param({}, "queue", "shop", id="subclass-default-queue"),
        pytest.param({"SHOPMESH_QUEUE": "shop-2"}, "queue", "shop-2", id="queue"),
        pytest.param({}, "prefetch", 32, id="default-prefetch"),
        pytest.param({"SHOPMESH_PREFETCH": "4"}, "prefetch", 4, id="prefetch"),
        pytest.param({"SHOPMESH_CONSUMERS_ENABLED": "false"}, "consumers_enabled", False, id="off"),
    ],
)
def test_settings_from_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], field: str, expected: object
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert getattr(ShopSettings(), field) == expected


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"SHOPMESH_RETRY_DELAYS": "1,x"}, id="not-a-number"),
        pytest.param({"SHOPMESH_RETRY_DELAYS": "1,-5"}, id="negative-delay"),
        pytest.param({"SHOPMESH_PREFETCH": "0"}, id="no-prefetch"),
        pytest.param({"SHOPMESH_QUEUE": ""}, id="empty-queue"),
    ],
)
def test_invalid_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        ShopSettings()


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"retry_delays": (1.0, 0.0)}, id="zero-delay"),
        pytest.param({"retry_delays": (-1.0,)}, id="negative-delay"),
        pytest.param({"prefetch": 0}, id="no-prefetch"),
        pytest.param({"prefetch": 1001}, id="huge-prefetch"),
        pytest.param({"queue": ""}, id="empty-queue-kept-by-the-subclass"),
        pytest.param({"queue": "q" * 201}, id="long-queue"),
    ],
)
def test_invalid_settings(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        ShopSettings(**kwargs)


def test_the_base_wants_a_queue_name() -> None:
    with pytest.raises(ValidationError, match="queue"):
        ConsumerSettings()


def test_consumer_spec_is_the_configured_queue() -> None:
    settings = ShopSettings(queue="q1", retry_delays=(0.5, 2.0), prefetch=7)
    assert settings.consumer_spec(["order.*", "user.registered"]) == ConsumerSpec(
        queue="q1",
        routing_keys=("order.*", "user.registered"),
        retry_delays=(0.5, 2.0),
        prefetch=7,
    )


@pytest.mark.parametrize(
    ("enabled", "started"),
    [
        pytest.param(True, ["consumer", "dead-letter-depth"], id="enabled"),
        pytest.param(False, [], id="disabled"),
    ],
)
def test_start_consumer(enabled: bool, started: list[str]) -> None:
    background = RecordingBackground()
    settings = ShopSettings(consumers_enabled=enabled, amqp_url="amqp://broker:5672/")
    consumer = start_consumer(background, settings, routing_keys=("order.*",), handler=handle)
    assert background.started == started
    if enabled:
        assert consumer is not None
        assert consumer.service == "shop"
        assert consumer.spec == settings.consumer_spec(("order.*",))
    else:
        assert consumer is None


def _consumer(queue: str = "shop") -> Consumer:
    spec = ConsumerSpec(queue=queue, routing_keys=("order.*",))
    return Consumer(service="shop", amqp_url="amqp://broker:5672/", spec=spec, handler=handle)


async def test_consumer_ready_fails_until_it_consumes() -> None:
    consumer = _consumer("q-ready")
    check = consumer_ready(consumer)
    with pytest.raises(RuntimeError, match="not consuming q-ready yet"):
        await check()
    consumer.ready.set()
    await check()
    consumer.ready.clear()  # the broker went away: not ready again
    with pytest.raises(RuntimeError):
        await check()


@pytest.mark.parametrize(
    ("consumer", "names"),
    [
        pytest.param(None, ["ping"], id="not-consuming"),
        pytest.param(_consumer(), ["ping", "consumer_ready"], id="consuming"),
    ],
)
def test_readiness_checks(consumer: Consumer | None, names: list[str]) -> None:
    async def ping() -> None:
        return None

    app = FastAPI()
    app.state.db = SimpleNamespace(ping=ping)
    app.state.consumer = consumer
    assert [getattr(check, "__name__", "") for check in readiness_checks(app)] == names


async def test_consumer_app_is_ready_once_its_consumer_consumes() -> None:
    app = create_consumer_app(ShopSettings(queue="q-app"), lifespan=no_lifespan, routers=[])
    consumer = _consumer("q-app")

    async def ping() -> None:
        return None

    app.state.db = SimpleNamespace(ping=ping)
    app.state.consumer = consumer
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        waiting = await http.get("/health/ready")
        consumer.ready.set()
        ready = await http.get("/health/ready")
        # Known queues only: an unknown one is refused before the broker is asked.
        unknown = await http.get("/admin/dead-letters/other-queue")
    assert (waiting.status_code, ready.status_code) == (503, 200)
    assert "not consuming q-app yet" in waiting.json()["detail"]
    assert unknown.status_code == 404
    assert "q-app" in unknown.json()["detail"]


async def test_consumer_lifespan_is_the_service_lifespan_with_no_consumer_yet(
    databases: list[Any], upgraded: list[tuple[str, str]]
) -> None:
    app = FastAPI()
    settings = ShopSettings(postgres_url="postgresql://pg", database="shop_db")
    async with consumer_lifespan(app, settings, package="shopmesh_shop") as runtime:
        (db,) = databases
        assert (runtime.db, app.state.db, db.state) == (db, db, "connected")
        assert (app.state.settings, app.state.consumer) == (settings, None)
    assert upgraded == [("shopmesh_shop", "postgresql://pg/shop_db")]
    assert db.state == "closed"


async def test_consumer_lifespan_runs_the_consumer_until_it_ends(
    databases: list[Any], upgraded: list[tuple[str, str]]
) -> None:
    app = FastAPI()
    # Nothing listens on port 1: the consumer keeps reconnecting and is never ready.
    settings = ShopSettings(run_migrations=False, amqp_url="amqp://u:p@127.0.0.1:1/")
    async with consumer_lifespan(app, settings, package="shopmesh_shop") as runtime:
        consumer = runtime.consume(["order.*"], handle)
        assert app.state.consumer is consumer is not None
        assert consumer.spec.routing_keys == ("order.*",)
        (task,) = [t for t in asyncio.all_tasks() if t.get_name() == "consumer"]
        check = readiness_checks(app)[-1]
        with pytest.raises(RuntimeError, match="not consuming shop yet"):
            await check()
    assert task.done()
    assert databases[0].state == "closed"
