"""What a service that consumes shop events needs around `broker.Consumer`.

Used by notifications and order-history (their `settings.py` and `main.py`):
- `ConsumerSettings`: `ServiceSettings` plus the consumed queue (SHOPMESH_QUEUE), the
  delays of its retry queues (SHOPMESH_RETRY_DELAYS, as `1,5,30` or as JSON `[1, 5, 30]`)
  and the prefetch limit (SHOPMESH_PREFETCH). A subclass names its own queue with
  `queue: QueueName = "<service>"`;
- `create_consumer_app`: `app.create_app` plus the dead-letter admin routes of the queue
  and `readiness_checks` (the database ping, and the consumer once there is one);
- `consumer_lifespan`: `lifespan.service_lifespan` (migrate, connect, and on the way out
  stop the background tasks, run the closers, close the database) yielding a
  `ConsumerRuntime`, whose `consume(...)` starts the consumer as a background task (unless
  SHOPMESH_CONSUMERS_ENABLED is false).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI
from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from .app import Background, ReadinessCheck
from .app import create_app as create_service_app
from .broker import Consumer, ConsumerSpec, Handler
from .dead_letters import admin_router, watch_dead_letter_depth
from .lifespan import ServiceRuntime, database_readiness, service_lifespan
from .settings import ServiceSettings

# An annotated type rather than a field default: a subclass that overrides the default
# keeps the bounds.
QueueName = Annotated[str, Field(min_length=1, max_length=200)]


class ConsumerSettings(ServiceSettings):
    """Which queue a service consumes and how patiently its failures are retried."""

    queue: QueueName  # required here: each service names its own queue
    # NoDecode: pydantic-settings would parse the variable as JSON only, and `1,5,30` is
    # the friendlier spelling; `_parse_delays` takes both.
    retry_delays: Annotated[tuple[float, ...], NoDecode] = (1.0, 5.0, 30.0)
    prefetch: int = Field(32, ge=1, le=1000)

    @field_validator("retry_delays", mode="before")
    @classmethod
    def _parse_delays(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip().strip("[]")
            return tuple(float(part) for part in text.split(",") if part.strip())
        return value

    @field_validator("retry_delays")
    @classmethod
    def _positive_delays(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        if any(delay <= 0 for delay in value):
            raise ValueError("retry delays must be positive")
        return value

    def consumer_spec(self, routing_keys: Sequence[str]) -> ConsumerSpec:
        """The configured queue, bound to `routing_keys`."""
        return ConsumerSpec(
            queue=self.queue,
            routing_keys=tuple(routing_keys),
            retry_delays=self.retry_delays,
            prefetch=self.prefetch,
        )


def start_consumer(
    background: Background,
    settings: ConsumerSettings,
    *,
    routing_keys: Sequence[str],
    handler: Handler,
) -> Consumer | None:
    """Run the service's consumer as the `consumer` task; None when consumers are disabled."""
    if not settings.consumers_enabled:
        return None
    consumer = Consumer(
        service=settings.service_name,
        amqp_url=settings.amqp_url,
        spec=settings.consumer_spec(routing_keys),
        handler=handler,
    )
    background.start("consumer", consumer.run)
    watch = (settings.service_name, settings.amqp_url, [settings.queue])
    background.start("dead-letter-depth", lambda: watch_dead_letter_depth(*watch))
    return consumer


def consumer_ready(consumer: Consumer) -> ReadinessCheck:
    """A readiness check that fails until `consumer` consumes (again, after a reconnect)."""

    async def consumer_ready() -> None:
        if not consumer.ready.is_set():
            raise RuntimeError(f"not consuming {consumer.spec.queue} yet")

    return consumer_ready


def readiness_checks(app: FastAPI) -> Sequence[ReadinessCheck]:
    """`app.state.db` answers and `app.state.consumer`, if there is one, consumes."""
    checks = list(database_readiness(app))
    consumer: Consumer | None = app.state.consumer
    if consumer is not None:
        checks.append(consumer_ready(consumer))
    return checks


def create_consumer_app(
    settings: ConsumerSettings,
    *,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    routers: Sequence[APIRouter],
) -> FastAPI:
    """The service app, with the dead-letter admin routes of its queue and its readiness."""
    return create_service_app(
        service=settings.service_name,
        lifespan=lifespan,
        routers=[*routers, admin_router(settings.amqp_url, [settings.queue])],
        readiness=readiness_checks,
    )


@dataclass(frozen=True)
class ConsumerRuntime(ServiceRuntime):
    """`ServiceRuntime` of a consumer service: the same resources, and `consume`."""

    settings: ConsumerSettings

    def consume(self, routing_keys: Sequence[str], handler: Handler) -> Consumer | None:
        """`start_consumer`, and readiness waits for the consumer from now on."""
        consumer = start_consumer(
            self.background, self.settings, routing_keys=routing_keys, handler=handler
        )
        self.app.state.consumer = consumer
        return consumer


@asynccontextmanager
async def consumer_lifespan(
    app: FastAPI, settings: ConsumerSettings, *, package: str
) -> AsyncIterator[ConsumerRuntime]:
    """`service_lifespan`, with `app.state.consumer` None until `consume` starts one."""
    async with service_lifespan(app, settings, package=package) as runtime:
        app.state.consumer = None
        yield ConsumerRuntime(
            app=app,
            settings=settings,
            db=runtime.db,
            background=runtime.background,
            closers=runtime.closers,
        )
