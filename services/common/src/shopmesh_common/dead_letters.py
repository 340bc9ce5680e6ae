"""Dead letters: list, show and replay the messages parked in `<queue>.dead`.

Used by the `shopmesh-dead-letters` CLI (`cli` below) and by each consumer service's admin
routes (`admin_router`). Both go round the dead-letter queue once, in order: each message
is taken, a persistent copy is published (publisher confirms) back to the end of the
dead-letter queue (listing, or a message a replay leaves) or to the consumer's own queue
with the attempt counter reset (replaying), and only then is the original acked. So
reading never hands a message back unacked: no redelivery, nothing counted against a
quorum queue's delivery limit (RabbitMQ 4 drops a message past it, 20 by default), and
an interruption half-way leaves at most a second copy parked, never a loss.

`watch_dead_letter_depth` keeps the gauge `shopmesh_dead_letters{service, queue}` (messages
parked per consumer queue) up to date from a passive queue declare every interval; a consumer
service runs it as a `Background` task next to its consumer. The broker reports the depth
itself (passive declare, no message is touched), so every replica of a service reports the
same number: alerts and dashboards take the `max` per queue, never the sum.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import aio_pika
import typer
from aio_pika.abc import AbstractConnection, AbstractIncomingMessage
from aio_pika.exceptions import ChannelNotFoundEntity
from fastapi import APIRouter, Query
from prometheus_client import Gauge

from .broker import ATTEMPT_HEADER, DEAD_AT_HEADER, ERROR_HEADER, copy_message
from .problems import Problem

log = logging.getLogger(__name__)

DEAD_LETTERS = Gauge(
    "shopmesh_dead_letters",
    "Messages parked in a consumer queue's dead-letter queue (<queue>.dead)",
    ["service", "queue"],
)


@dataclass(frozen=True)
class DeadLetter:
    """One parked message, as shown to people."""

    message_id: str
    event_type: str
    attempts: int
    last_error: str
    dead_at: str
    body: Any


def _describe(message: AbstractIncomingMessage) -> DeadLetter:
    headers = message.headers or {}
    try:
        body: Any = json.loads(message.body)
    except ValueError:
        body = message.body.decode(errors="replace")
    attempts = headers.get(ATTEMPT_HEADER, 0)
    return DeadLetter(
        message_id=message.message_id or "",
        event_type=message.type or "",
        attempts=int(attempts) if isinstance(attempts, int | str) else 0,
        last_error=str(headers.get(ERROR_HEADER, "")),
        dead_at=str(headers.get(DEAD_AT_HEADER, "")),
        body=body,
    )


async def _go_round(
    amqp_url: str, queue: str, take: Callable[[AbstractIncomingMessage], bool]
) -> list[AbstractIncomingMessage]:
    """Every message parked for `queue`, once, in order: those `take` wants are sent back
    to `queue` (attempts reset), the rest to the end of `<queue>.dead`; both as
    confirmed copies before the original is acked. Returns the ones sent to `queue`."""
    connection = await aio_pika.connect(amqp_url)
    taken: list[AbstractIncomingMessage] = []
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        dead = await channel.declare_queue(f"{queue}.dead", passive=True)
        for _ in range(int(dead.declaration_result.message_count or 0)):
            message = await dead.get(no_ack=False, fail=False)
            if message is None:
                break
            if take(message):
                copy, target = copy_message(message, {ATTEMPT_HEADER: 0}), queue
                taken.append(message)
            else:
                copy, target = copy_message(message, {}), dead.name
            await channel.default_exchange.publish(copy, routing_key=target)
            await message.ack()
        await channel.close()
    return taken


async def list_dead_letters(amqp_url: str, queue: str, *, limit: int = 100) -> list[DeadLetter]:
    """Up to `limit` parked messages of consumer `queue`, oldest first, left parked."""
    found: list[DeadLetter] = []

    def keep(message: AbstractIncomingMessage) -> bool:
        if len(found) < limit:
            found.append(_describe(message))
        return False

    await _go_round(amqp_url, queue, keep)
    return found


async def count_dead_letters(amqp_url: str, queue: str) -> int:
    """How many messages are parked for `queue`."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        dead = await channel.declare_queue(f"{queue}.dead", passive=True)
        return int(dead.declaration_result.message_count or 0)


async def read_dead_letter_depths(
    connection: AbstractConnection, queues: Sequence[str]
) -> dict[str, int]:
    """Messages parked per consumer queue, by passive declare (nothing is consumed).

    A dead-letter queue that does not exist yet (its consumer has not declared its topology)
    counts as 0: nothing can be parked there. The broker closes a channel whose passive
    declare fails, hence one channel per queue.
    """
    depths: dict[str, int] = {}
    for queue in queues:
        channel = await connection.channel()
        try:
            dead = await channel.declare_queue(f"{queue}.dead", passive=True)
            depths[queue] = int(dead.declaration_result.message_count or 0)
        except ChannelNotFoundEntity:
            depths[queue] = 0
        finally:
            if not channel.is_closed:
                await channel.close()
    return depths


async def watch_dead_letter_depth(
    service: str, amqp_url: str, queues: Sequence[str], *, interval_seconds: float = 15.0
) -> None:
    """Set `shopmesh_dead_letters{service, queue}` for `queues` every interval, forever.

    For `Background.start` (it returns only when cancelled). While the broker cannot be
    reached, the gauge keeps its last value and the watch reconnects after an interval.
    """
    while True:
        try:
            connection = await aio_pika.connect(amqp_url)
            async with connection:
                while True:
                    for queue, depth in (await read_dead_letter_depths(connection, queues)).items():
                        DEAD_LETTERS.labels(service, queue).set(depth)
                    await asyncio.sleep(interval_seconds)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("dead-letter depth of %s unknown, retrying: %s", ", ".join(queues), exc)
        await asyncio.sleep(interval_seconds)


async def replay_dead_letters(
    amqp_url: str, queue: str, *, message_id: str | None = None, limit: int = 1000
) -> list[str]:
    """Send parked messages (up to `limit`, or the one with `message_id`) back to `queue`."""

    chosen = 0

    def wanted(message: AbstractIncomingMessage) -> bool:
        nonlocal chosen
        if message_id is not None:
            take = chosen == 0 and message.message_id == message_id
        else:
            take = chosen < limit
        chosen += take
        return take

    replayed = await _go_round(amqp_url, queue, wanted)
    return [message.message_id or "" for message in replayed]


def admin_router(amqp_url: str, queues: list[str]) -> APIRouter:
    """Admin routes of a consumer service: list, show and replay its dead letters."""
    router = APIRouter(prefix="/admin/dead-letters", tags=["admin"])

    def check(queue: str) -> None:
        if queue not in queues:
            raise Problem(404, f"no consumer queue {queue!r}; known: {', '.join(queues)}")

    @router.get("/{queue}")
    async def list_(queue: str, limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Any:
        check(queue)
        return [asdict(d) for d in await list_dead_letters(amqp_url, queue, limit=limit)]

    @router.get("/{queue}/{message_id}")
    async def show(queue: str, message_id: str) -> Any:
        check(queue)
        for letter in await list_dead_letters(amqp_url, queue, limit=1000):
            if letter.message_id == message_id:
                return asdict(letter)
        raise Problem(404, f"no dead letter {message_id!r} in {queue}.dead")

    @router.post("/{queue}/replay")
    async def replay(queue: str, message_id: str | None = None) -> Any:
        check(queue)
        replayed = await replay_dead_letters(amqp_url, queue, message_id=message_id)
        if message_id is not None and not replayed:
            raise Problem(404, f"no dead letter {message_id!r} in {queue}.dead")
        return {"replayed": replayed}

    return router


cli = typer.Typer(help="List, show and replay ShopMesh dead letters.", no_args_is_help=True)
AmqpUrl = Annotated[str, typer.Option(envvar="SHOPMESH_AMQP_URL", help="RabbitMQ URL")]
DEFAULT_AMQP = os.environ.get("SHOPMESH_AMQP_URL", "amqp://shopmesh:shopmesh@127.0.0.1:16672/")


@cli.command("list")
def list_command(queue: str, amqp_url: AmqpUrl = DEFAULT_AMQP, limit: int = 100) -> None:
    """List the dead letters of a consumer queue (e.g. notifications)."""
    from rich.console import Console
    from rich.table import Table

    letters = asyncio.run(list_dead_letters(amqp_url, queue, limit=limit))
    table = Table("message id", "event type", "attempts", "dead at", "last error")
    for d in letters:
        table.add_row(d.message_id, d.event_type, str(d.attempts), d.dead_at, d.last_error)
    Console().print(table)


@cli.command("show")
def show_command(queue: str, message_id: str, amqp_url: AmqpUrl = DEFAULT_AMQP) -> None:
    """Print one dead letter as JSON."""
    for d in asyncio.run(list_dead_letters(amqp_url, queue, limit=1000)):
        if d.message_id == message_id:
            typer.echo(json.dumps(asdict(d), indent=2, default=str))
            return
    typer.echo(f"no dead letter {message_id} in {queue}.dead", err=True)
    raise typer.Exit(1)


@cli.command("replay")
def replay_command(
    queue: str,
    message_id: Annotated[str | None, typer.Option("--id", help="replay only this one")] = None,
    amqp_url: AmqpUrl = DEFAULT_AMQP,
) -> None:
    """Send dead letters back to their queue (all, or --id)."""
    replayed = asyncio.run(replay_dead_letters(amqp_url, queue, message_id=message_id))
    typer.echo(f"replayed {len(replayed)}: {' '.join(replayed)}")
    if message_id is not None and not replayed:
        raise typer.Exit(1)


if __name__ == "__main__":
    cli()
