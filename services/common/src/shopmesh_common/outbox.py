"""Transactional outbox: events are written with the state change, published by a relay.

`add_event(conn, event)` inserts the event into the service's `outbox` table inside the
caller's transaction, and `pg_notify`s the relay (delivered only when that transaction
commits, never for a rolled-back one). So an event exists if and only if its state change
committed.

`OutboxRelay` publishes unsent rows to RabbitMQ's `shop.events` exchange in id order, on a
channel with publisher confirms, and marks a row sent only after the broker acknowledged
it. A crash between the ack and the mark re-publishes the event on restart: delivery is
at least once, and every consumer deduplicates by event id (see `inbox`).

`add_event` stores the W3C trace context of the transaction's caller with the event; the
relay publishes each event inside that context (not its own), so the consumer continues
the trace of the request that caused the event, even when the relay runs much later or
in another process.

Order per aggregate with several relays: each relay holds a dedicated connection and takes a
session-level PostgreSQL advisory lock (`pg_try_advisory_lock`) named after the service
before publishing anything. Only the holder publishes, in id order; the others stand by and
retry the lock every `standby_seconds`. The lock dies with the holder's connection (also on
`kill -9`, when PostgreSQL notices the closed socket), so a standby takes over from the
first unsent row. Events of one aggregate are therefore published in commit-id order by a
single publisher at a time. (A re-publish after a take-over can repeat an already-sent
event; consumers drop it by event id and keep the newest `sequence` per aggregate.)

The relay wakes on LISTEN/NOTIFY and also polls every `poll_seconds`, so a lost
notification (relay restart, connection drop) only delays, never loses, an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import zlib
from typing import Any

import aio_pika
import asyncpg
from aio_pika.abc import AbstractExchange
from opentelemetry import context as otel_context
from opentelemetry import propagate
from prometheus_client import Counter, Gauge, Histogram

from .events import Event, events_exchange

log = logging.getLogger(__name__)

OUTBOX_LAG = Histogram(
    "shopmesh_outbox_lag_seconds",
    "Time from an event's commit to the broker's publisher confirm",
    ["service"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OUTBOX_PUBLISHED = Counter(
    "shopmesh_outbox_published_total", "Events published by the outbox relay", ["service"]
)
OUTBOX_LEADER = Gauge(
    "shopmesh_outbox_relay_leader", "1 when this relay holds the publish lock", ["service"]
)


def _channel(service: str) -> str:
    return f"outbox_{service.replace('-', '_')}"


async def add_event(conn: asyncpg.Connection, event: Event, *, service: str) -> None:
    """Write `event` into the outbox in the caller's transaction and wake the relay."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    await conn.execute(
        """INSERT INTO outbox (event_id, event_type, aggregate_type, aggregate_id, payload, headers)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        event.event_id,
        event.event_type,
        event.aggregate_type,
        event.aggregate_id,
        event.model_dump(mode="json"),
        headers,
    )
    await conn.execute("SELECT pg_notify($1, '')", _channel(service))


class OutboxRelay:
    """Publishes a service's outbox to RabbitMQ; run one or more per service."""

    def __init__(
        self,
        *,
        service: str,
        database_url: str,
        amqp_url: str,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
        standby_seconds: float = 1.0,
    ) -> None:
        self.service = service
        self._database_url = database_url
        self._amqp_url = amqp_url
        self._batch_size = batch_size
        self._poll_seconds = poll_seconds
        self._standby_seconds = standby_seconds
        self._wake = asyncio.Event()
        self._lock_key = zlib.crc32(f"outbox:{service}".encode())
        self.is_leader = False

    async def run(self) -> None:
        """Relay forever; reconnects after database or broker failures."""
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure: drop connections, retry shortly
                log.warning("outbox relay for %s restarting: %s", self.service, exc)
                self._set_leader(False)
                await asyncio.sleep(self._standby_seconds)

    def _set_leader(self, leader: bool) -> None:
        self.is_leader = leader
        OUTBOX_LEADER.labels(self.service).set(1 if leader else 0)

    async def _run_once(self) -> None:
        conn: asyncpg.Connection = await asyncpg.connect(self._database_url)
        try:
            await self._wait_for_lock(conn)
            self._set_leader(True)
            await conn.add_listener(_channel(self.service), self._on_notify)
            broker = await aio_pika.connect(self._amqp_url)
            async with broker:
                channel = await broker.channel(publisher_confirms=True)
                exchange = await channel.declare_exchange(
                    events_exchange(), aio_pika.ExchangeType.TOPIC, durable=True
                )
                while True:
                    sent = await self.publish_batch(conn, exchange)
                    if sent < self._batch_size:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(self._wake.wait(), self._poll_seconds)
                        self._wake.clear()
        finally:
            self._set_leader(False)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.close(), 2)

    async def _wait_for_lock(self, conn: asyncpg.Connection) -> None:
        # Standby: the lock holder may be alive for hours; polling the lock is the only way
        # to learn that it died (PostgreSQL has no "lock released" notification).
        while not await conn.fetchval(  # noqa: ASYNC110 (see above)
            "SELECT pg_try_advisory_lock($1)", self._lock_key
        ):
            await asyncio.sleep(self._standby_seconds)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def publish_batch(self, conn: asyncpg.Connection, exchange: AbstractExchange) -> int:
        """Publish up to one batch of unsent events in id order; returns how many."""
        rows = await conn.fetch(
            """SELECT id, event_id, event_type, payload, headers,
                      extract(epoch FROM created_at) AS created
               FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT $1""",
            self._batch_size,
        )
        if not rows:
            return 0
        # Published in id order on one channel (aiormq's publish lock is FIFO), awaited
        # together so that the broker's confirms overlap instead of costing a round trip each.
        await asyncio.gather(*(self._publish(exchange, row) for row in rows))
        await conn.execute(
            "UPDATE outbox SET sent_at = clock_timestamp() WHERE id = ANY($1::bigint[])",
            [row["id"] for row in rows],
        )
        now = time.time()
        for row in rows:
            OUTBOX_LAG.labels(self.service).observe(max(0.0, now - float(row["created"])))
        OUTBOX_PUBLISHED.labels(self.service).inc(len(rows))
        return len(rows)

    async def _publish(self, exchange: AbstractExchange, row: asyncpg.Record) -> None:
        payload = row["payload"]
        if isinstance(payload, str):  # connections without the json codec
            payload = json.loads(payload)
        headers = row["headers"]
        if isinstance(headers, str):
            headers = json.loads(headers)
        message = aio_pika.Message(
            body=json.dumps(payload).encode(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=str(row["event_id"]),
            type=row["event_type"],
            headers={**headers, "x-shopmesh-origin": self.service},
        )
        # Publish in the context of the request that wrote the event, not the relay's own:
        # an instrumented publish injects its PRODUCER span, which then continues that trace.
        token = otel_context.attach(propagate.extract(headers))
        try:
            await exchange.publish(message, routing_key=row["event_type"])
        finally:
            otel_context.detach(token)


def main() -> None:
    """`python -m shopmesh_common.outbox <service> <database_url> [amqp_url]`: a relay alone.

    Services run their relay in-process by default; running it as its own process is how a
    team scales it out (several relays, one publishing) and how the crash tests kill it.
    """
    import os
    import sys

    from .logs import configure_logging
    from .telemetry import configure_telemetry

    if len(sys.argv) < 3:
        sys.exit("usage: python -m shopmesh_common.outbox <service> <database_url> [amqp_url]")
    service, database_url = sys.argv[1], sys.argv[2]
    amqp_url = sys.argv[3] if len(sys.argv) > 3 else os.environ["SHOPMESH_AMQP_URL"]
    configure_logging(f"{service}-relay")
    configure_telemetry(f"{service}-relay")
    relay = OutboxRelay(service=service, database_url=database_url, amqp_url=amqp_url)
    asyncio.run(relay.run())


if __name__ == "__main__":
    main()
