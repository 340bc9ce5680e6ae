"""Shop benchmark on the real stack, printed as ratios against peers measured in the same run.

1. Confirmed orders per second through orders -> inventory -> payments with the outbox
   (each order: the POST, its saga's five HTTP calls and about ten transactions across three
   databases, and two published events), next to pgbench's TPC-B-like TPS on the same
   PostgreSQL server, printed as a ratio (orders/s per pgbench transaction/s).
2. Outbox relay lag (commit of an event -> a consumer holds it) p50 / p99 at a steady
   event rate, next to the relay's fallback poll interval.

Calls carry service tokens like the gateway's; tracing is on when the stack exports
OTEL_EXPORTER_OTLP_ENDPOINT (set OTEL_SDK_DISABLED=true to measure without it).

Run by `make bench-shop` (BENCH_ORDERS_SECONDS, BENCH_ORDERS_CLIENTS, BENCH_EVENT_RATE,
BENCH_LAG_SECONDS). Needs `make stack-up`; starts the services itself on free ports.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aio_pika
import asyncpg
import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "shop"))

from shop_helpers import PRODUCTS, delete_queues, seed, service_client, sign_up  # noqa: E402
from shop_processes import AMQP_URL, POSTGRES_URL, Shop  # noqa: E402

from shopmesh_common.db import Database  # noqa: E402
from shopmesh_common.events import EXCHANGE, Event  # noqa: E402
from shopmesh_common.outbox import OutboxRelay, add_event  # noqa: E402
from shopmesh_common.testing import fresh_database  # noqa: E402

ORDERS_SECONDS = float(os.environ.get("BENCH_ORDERS_SECONDS", "20"))
ORDERS_CLIENTS = int(os.environ.get("BENCH_ORDERS_CLIENTS", "32"))
PGBENCH_SECONDS = int(os.environ.get("BENCH_PGBENCH_SECONDS", "15"))
EVENT_RATE = float(os.environ.get("BENCH_EVENT_RATE", "200"))
LAG_SECONDS = float(os.environ.get("BENCH_LAG_SECONDS", "15"))
PGBENCH = "/usr/lib/postgresql/15/bin/pgbench"


def pgbench_tps(clients: int) -> float:
    """TPC-B-like TPS of the stack's PostgreSQL (scale 10) with `clients` connections."""
    name = f"bench_pgbench_{uuid.uuid4().hex[:6]}"
    host_part = POSTGRES_URL.split("@", 1)[1]
    host, port = host_part.split(":")
    env = {
        **os.environ,
        "PGPASSWORD": "shopmesh",
        "PGUSER": "shopmesh",
        "PGHOST": host,
        "PGPORT": port,
    }
    subprocess.run(["createdb", name], env=env, check=True)
    try:
        subprocess.run(
            [PGBENCH, "-i", "-q", "-s", "10", name], env=env, check=True, capture_output=True
        )
        out = subprocess.run(
            [PGBENCH, "-c", str(clients), "-j", "2", "-T", str(PGBENCH_SECONDS), name],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        subprocess.run(["dropdb", "--force", name], env=env, check=False)
    for line in out.splitlines():
        if line.startswith("tps"):
            return float(line.split("=")[1].split()[0])
    raise RuntimeError(f"no tps in pgbench output:\n{out}")


async def confirmed_orders_per_second() -> tuple[float, int, int]:
    """Run clients placing orders for ORDERS_SECONDS; returns (confirmed/s, confirmed, failed)."""
    shop = Shop()
    await shop.create_databases()
    shop.configure()
    try:
        shop.start()
        await seed(shop, stock=1_000_000)
        users = await sign_up(shop, 8)
        stop_at = time.monotonic() + ORDERS_SECONDS
        placed: list[str] = []

        async def client_loop(n: int, client: httpx.AsyncClient) -> None:
            pids = sorted(PRODUCTS)
            while time.monotonic() < stop_at:
                answer = await client.post(
                    "/orders",
                    json={"items": [{"product_id": pids[n % len(pids)], "quantity": 1}]},
                    headers={"Idempotency-Key": f"bench-{uuid.uuid4()}", "X-User-Id": users[n % 8]},
                )
                if answer.status_code == 202:
                    placed.append(answer.json()["id"])

        started = time.monotonic()
        limits = httpx.Limits(max_connections=ORDERS_CLIENTS)
        async with service_client(shop, "orders", caller="gateway", timeout=60, limits=limits) as c:
            await asyncio.gather(*(client_loop(n, c) for n in range(ORDERS_CLIENTS)))
        conn = await asyncpg.connect(shop.database_url("orders"))
        try:
            while True:
                rows = await conn.fetch("SELECT status, count(*) AS n FROM orders GROUP BY status")
                counts = {r["status"]: r["n"] for r in rows}
                if set(counts) <= {"CONFIRMED", "FAILED"}:
                    break
                await asyncio.sleep(0.2)
        finally:
            await conn.close()
        elapsed = time.monotonic() - started
        confirmed = counts.get("CONFIRMED", 0)
        return confirmed / elapsed, confirmed, counts.get("FAILED", 0)
    finally:
        shop.stop()
        await delete_queues(shop)
        await shop.drop_databases()


async def relay_lag() -> list[float]:
    """Lag of each event from its commit to a consumer, at EVENT_RATE events/s."""
    service = f"bench{uuid.uuid4().hex[:6]}"
    async with fresh_database("shopmesh_orders", prefix="benchlag") as url:
        db = Database(url, max_size=4)
        await db.connect()
        connection = await aio_pika.connect(AMQP_URL)
        relay = OutboxRelay(service=service, database_url=url, amqp_url=AMQP_URL)
        relay_task = asyncio.create_task(relay.run())
        lags: list[float] = []
        try:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(
                EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
            )
            queue = await channel.declare_queue(exclusive=True)
            await queue.bind(exchange, routing_key=f"{service}.#")
            committed: dict[str, float] = {}

            async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
                body = json.loads(message.body)
                at = committed.get(body["event_id"])
                if at is not None:
                    lags.append(time.monotonic() - at)
                await message.ack()

            await queue.consume(on_message)
            await asyncio.sleep(1.0)  # the relay takes its lock and listens
            interval, total = 1.0 / EVENT_RATE, int(EVENT_RATE * LAG_SECONDS)
            start = time.monotonic()
            for n in range(total):
                await asyncio.sleep(max(0.0, start + n * interval - time.monotonic()))
                event = Event(
                    event_type=f"{service}.tick", aggregate_type="t", aggregate_id="1", sequence=n
                )
                async with db.transaction() as conn:
                    await add_event(conn, event, service=service)
                committed[str(event.event_id)] = time.monotonic()
            deadline = time.monotonic() + 10
            while len(lags) < total and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        finally:
            relay_task.cancel()
            await asyncio.gather(relay_task, return_exceptions=True)
            await connection.close()
            await db.close()
        return lags


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def main() -> None:
    print(
        f"pgbench TPC-B-like, scale 10, {ORDERS_CLIENTS} clients, {PGBENCH_SECONDS}s ...",
        flush=True,
    )
    tps = await asyncio.to_thread(pgbench_tps, ORDERS_CLIENTS)
    print(f"  pgbench: {tps:,.0f} TPS")
    print(
        f"orders: {ORDERS_CLIENTS} clients for {ORDERS_SECONDS:.0f}s through the saga ...",
        flush=True,
    )
    rate, confirmed, failed = await confirmed_orders_per_second()
    print(f"  confirmed orders/s: {rate:,.1f} ({confirmed} confirmed, {failed} failed)")
    print(f"  ratio orders/s : pgbench TPS = {rate / tps:.3f} (1 : {tps / max(rate, 1e-9):.1f})")
    print(f"outbox relay lag at {EVENT_RATE:.0f} events/s for {LAG_SECONDS:.0f}s ...", flush=True)
    lags = await relay_lag()
    expected = int(EVENT_RATE * LAG_SECONDS)
    p50, p99 = percentile(lags, 0.5) * 1000, percentile(lags, 0.99) * 1000
    print(
        f"  received {len(lags)}/{expected}; p50 {p50:.1f} ms, p99 {p99:.1f} ms, "
        f"mean {statistics.fmean(lags) * 1000:.1f} ms"
    )
    print(f"  p99 / fallback poll interval (1000 ms) = {p99 / 1000:.3f}")


if __name__ == "__main__":
    asyncio.run(main())
