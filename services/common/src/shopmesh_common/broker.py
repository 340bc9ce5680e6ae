"""RabbitMQ for consumers: topology, manual acks, delayed retries and the dead-letter queue.

Topology per consumer (declared idempotently by `declare_topology`):
- exchange `shop.events` (topic, durable): the outbox relays publish every event there;
- `<queue>` (quorum, durable) bound to the consumer's routing keys; consumed with manual
  acks and a prefetch limit;
- `<queue>.retry.<n>.<delay>ms` (quorum, durable), one per retry delay: a message waits
  there for its delay (`x-message-ttl`) and is dead-lettered back to `<queue>` through the
  default exchange. Delays grow (1 s, 5 s, 30 s by default);
- `<queue>.dead` (quorum, durable): where a message is parked after the last retry, with
  the last error in its headers, until `dead_letters` replays it.

A handler that raises makes the consumer publish a copy to the next retry queue (or to the
dead-letter queue), with publisher confirms, and only then ack the original: a crash in
between re-delivers it, it is never lost. The W3C `traceparent` travels in the message
headers: the handler runs inside a CONSUMER span `<queue> process`, a child of the
publisher's context (or of aio-pika's instrumentation's `receive` span, which is itself
that context's child), so one trace follows an event from the request that caused it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aio_pika
from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import Counter

from .events import Event, events_exchange

log = logging.getLogger(__name__)
tracer = trace.get_tracer(__name__)

ATTEMPT_HEADER = "x-shopmesh-attempt"
ERROR_HEADER = "x-shopmesh-last-error"
QUEUE_HEADER = "x-shopmesh-queue"
DEAD_AT_HEADER = "x-shopmesh-dead-at"
QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}

EVENTS_CONSUMED = Counter(
    "shopmesh_events_consumed_total",
    "Events handled by a consumer, by outcome (ok, retry, dead)",
    ["service", "queue", "outcome"],
)

Handler = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSpec:
    """One consumer queue: what it listens to and how it retries."""

    queue: str
    routing_keys: tuple[str, ...]
    retry_delays: tuple[float, ...] = (1.0, 5.0, 30.0)
    prefetch: int = 32
    extra: dict[str, Any] = field(default_factory=dict)

    def retry_queue(self, attempt: int) -> str:
        """The queue a message waits in before retry number `attempt` (1-based).

        The delay is part of the name: a queue's TTL cannot change once declared, so a new
        delay gets a new queue instead of a PRECONDITION_FAILED at start-up.
        """
        delay_ms = int(self.retry_delays[attempt - 1] * 1000)
        return f"{self.queue}.retry.{attempt}.{delay_ms}ms"

    @property
    def dead_queue(self) -> str:
        """The dead-letter queue."""
        return f"{self.queue}.dead"

    @property
    def all_queues(self) -> tuple[str, ...]:
        """Every queue this consumer declares (for clean-up)."""
        retries = (self.retry_queue(n) for n in range(1, len(self.retry_delays) + 1))
        return (self.queue, *retries, self.dead_queue)


async def declare_topology(channel: AbstractChannel, spec: ConsumerSpec) -> AbstractQueue:
    """Declare exchange, queue, retry queues and dead-letter queue; returns the main queue."""
    exchange = await channel.declare_exchange(
        events_exchange(), aio_pika.ExchangeType.TOPIC, durable=True
    )
    queue = await channel.declare_queue(spec.queue, durable=True, arguments=QUORUM)
    for key in spec.routing_keys:
        await queue.bind(exchange, routing_key=key)
    for attempt, delay in enumerate(spec.retry_delays, start=1):
        await channel.declare_queue(
            spec.retry_queue(attempt),
            durable=True,
            arguments={
                **QUORUM,
                "x-message-ttl": int(delay * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": spec.queue,
            },
        )
    await channel.declare_queue(spec.dead_queue, durable=True, arguments=QUORUM)
    return queue


def copy_message(message: AbstractIncomingMessage, headers: dict[str, Any]) -> aio_pika.Message:
    """A persistent copy of `message` with `headers` merged into its own."""
    return aio_pika.Message(
        body=message.body,
        content_type=message.content_type,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message.message_id,
        type=message.type,
        headers={**(message.headers or {}), **headers},
    )


def message_context(message: AbstractIncomingMessage) -> otel_context.Context:
    """The context a message's handler continues: the publisher's, from its headers.

    aio-pika's instrumentation (when installed) already runs the callback inside a
    `receive` span that continues the headers' trace; then that span is the parent.
    """
    published = propagate.extract(dict(message.headers or {}))
    publisher = trace.get_current_span(published).get_span_context()
    current = trace.get_current_span().get_span_context()
    if current.is_valid and (not publisher.is_valid or current.trace_id == publisher.trace_id):
        return otel_context.get_current()
    return published


class Consumer:
    """Consumes one queue with an event handler; retries, then dead-letters failures."""

    def __init__(
        self, *, service: str, amqp_url: str, spec: ConsumerSpec, handler: Handler
    ) -> None:
        self.service = service
        self.spec = spec
        self._amqp_url = amqp_url
        self._handler = handler
        self._channel: AbstractChannel | None = None
        self.ready = asyncio.Event()

    async def run(self) -> None:
        """Consume forever, reconnecting after broker failures."""
        while True:
            try:
                connection = await aio_pika.connect(self._amqp_url)
                async with connection:
                    channel = await connection.channel(publisher_confirms=True)
                    self._channel = channel
                    await channel.set_qos(prefetch_count=self.spec.prefetch)
                    queue = await declare_topology(channel, self.spec)
                    await queue.consume(self._on_message)
                    self.ready.set()
                    closed = asyncio.Event()
                    connection.close_callbacks.add(lambda *_, ev=closed: ev.set())
                    await closed.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer %s reconnecting: %s", self.spec.queue, exc)
            self.ready.clear()
            await asyncio.sleep(1.0)

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        token = otel_context.attach(message_context(message))
        try:
            with tracer.start_as_current_span(
                f"{self.spec.queue} process",
                kind=SpanKind.CONSUMER,
                attributes={
                    "messaging.system": "rabbitmq",
                    "messaging.operation": "process",
                    "messaging.destination.name": self.spec.queue,
                    "messaging.message.id": message.message_id or "",
                    "messaging.rabbitmq.destination.routing_key": message.routing_key or "",
                },
            ) as span:
                try:
                    event = Event.model_validate_json(message.body)
                    await self._handler(event)
                except Exception as exc:
                    span.record_exception(exc)
                    span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                    await self._retry_or_park(message, exc)
                else:
                    await message.ack()
                    EVENTS_CONSUMED.labels(self.service, self.spec.queue, "ok").inc()
        finally:
            otel_context.detach(token)

    async def _retry_or_park(self, message: AbstractIncomingMessage, exc: Exception) -> None:
        headers = message.headers or {}
        raw_attempt = headers.get(ATTEMPT_HEADER, 0)
        attempt = (int(raw_attempt) if isinstance(raw_attempt, int | str) else 0) + 1
        error = f"{type(exc).__name__}: {exc}"[:500]
        new_headers: dict[str, Any] = {
            ATTEMPT_HEADER: attempt,
            ERROR_HEADER: error,
            QUEUE_HEADER: self.spec.queue,
        }
        if attempt <= len(self.spec.retry_delays):
            target, outcome = self.spec.retry_queue(attempt), "retry"
        else:
            target, outcome = self.spec.dead_queue, "dead"
            new_headers[DEAD_AT_HEADER] = datetime.now(UTC).isoformat()
        log.warning(
            "event %s failed on %s (attempt %d): %s -> %s",
            message.message_id,
            self.spec.queue,
            attempt,
            error,
            target,
        )
        assert self._channel is not None
        try:
            await self._channel.default_exchange.publish(
                copy_message(message, new_headers), routing_key=target
            )
        except Exception:
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            raise
        await message.ack()
        EVENTS_CONSUMED.labels(self.service, self.spec.queue, outcome).inc()
