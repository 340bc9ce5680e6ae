"""The local stack (ci/stack/stack.sh, `make stack-up`) serves what the shop's
integration tests expect: PostgreSQL with the shopmesh login and the six service
databases, Redis, RabbitMQ with working quorum queues and publisher confirms, and
an SMTP sink that stores each message in a Maildir.

Reads the SHOPMESH_* exports from the environment, else from .shopmesh/stack/env.sh.
"""

import asyncio
import os
import shlex
import smtplib
import socket
import time
import uuid
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
import asyncpg
import pytest
from aio_pika.exceptions import ChannelPreconditionFailed, ProbableAuthenticationError
from pamqp.commands import Basic

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
DATABASES = [
    "users",
    "orders",
    "inventory",
    "payments",
    "notifications",
    "order_history",
    "gateway",
]
NAMES = [
    "SHOPMESH_POSTGRES_URL",
    "SHOPMESH_REDIS_URL",
    "SHOPMESH_AMQP_URL",
    "SHOPMESH_SMTP_HOST",
    "SHOPMESH_SMTP_PORT",
    "SHOPMESH_MAILDIR",
]


@pytest.fixture(scope="module")
def stack() -> dict[str, str]:
    env = {name: os.environ[name] for name in NAMES if name in os.environ}
    state = Path(os.environ.get("SHOPMESH_STATE", REPO_ROOT / ".shopmesh"))
    env_file = state / "stack" / "env.sh"
    if len(env) < len(NAMES) and env_file.is_file():
        for line in env_file.read_text().splitlines():
            words = shlex.split(line)
            if len(words) == 2 and words[0] == "export" and "=" in words[1]:
                name, value = words[1].split("=", 1)
                env.setdefault(name, value)
    missing = [name for name in NAMES if name not in env]
    if missing:
        pytest.fail(f"the local stack is not set up (no {', '.join(missing)}): run make stack-up")
    return env


async def test_postgres_is_the_stack_server(stack: dict[str, str]) -> None:
    url = urlsplit(stack["SHOPMESH_POSTGRES_URL"])
    conn = await asyncpg.connect(f"{stack['SHOPMESH_POSTGRES_URL']}/users", timeout=10)
    try:
        assert await conn.fetchval("SHOW port") == str(url.port)
        assert str(await conn.fetchval("SELECT inet_server_addr()")) == "127.0.0.1"
        assert (await conn.fetchval("SHOW server_version_num")).startswith("15")
        assert await conn.fetchval("SHOW fsync") == "on"
        assert await conn.fetchval("SHOW max_connections") == "300"
        assert await conn.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        # Password logins over TCP, stored and checked as SCRAM.
        assert await conn.fetchval(
            "SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid WHERE rolname = 'shopmesh'"
        )
        methods = await conn.fetch(
            "SELECT DISTINCT auth_method FROM pg_hba_file_rules WHERE type = 'host'"
        )
        assert [row["auth_method"] for row in methods] == ["scram-sha-256"]
    finally:
        await conn.close()


@pytest.mark.parametrize("database", DATABASES)
async def test_postgres_database_accepts_shopmesh(stack: dict[str, str], database: str) -> None:
    conn = await asyncpg.connect(f"{stack['SHOPMESH_POSTGRES_URL']}/{database}", timeout=10)
    try:
        row = await conn.fetchrow("SELECT current_database() AS db, current_user AS who")
        assert (row["db"], row["who"]) == (database, "shopmesh")
    finally:
        await conn.close()


async def test_postgres_refuses_a_wrong_password(stack: dict[str, str]) -> None:
    url = urlsplit(stack["SHOPMESH_POSTGRES_URL"])
    with pytest.raises(asyncpg.InvalidPasswordError):
        await asyncpg.connect(
            host=url.hostname, port=url.port, user="shopmesh", password="wrong",
            database="users", timeout=10,
        )  # fmt: skip


def test_redis_answers_ping(stack: dict[str, str]) -> None:
    url = urlsplit(stack["SHOPMESH_REDIS_URL"])
    assert url.hostname is not None
    assert url.port is not None
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(b"*1\r\n$4\r\nPING\r\n")
        assert sock.recv(64) == b"+PONG\r\n"


async def test_rabbitmq_quorum_queue_round_trip(stack: dict[str, str]) -> None:
    name = f"stack-test-{uuid.uuid4().hex}"
    body = f"hello {name}".encode()
    connection = await aio_pika.connect(stack["SHOPMESH_AMQP_URL"], timeout=10)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue(
            name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        try:
            confirmation = await channel.default_exchange.publish(
                aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
                routing_key=name,
                mandatory=True,
                timeout=10,
            )
            assert isinstance(confirmation, Basic.Ack)
            message = None
            for _ in range(50):
                message = await queue.get(fail=False, timeout=5)
                if message is not None:
                    break
                await asyncio.sleep(0.1)
            assert message is not None, "the published message never arrived"
            assert message.body == body
            await message.ack()
            # The broker really made it a quorum queue: redeclaring it as classic is refused.
            other = await connection.channel()
            with pytest.raises(ChannelPreconditionFailed):
                await other.declare_queue(name, durable=True, arguments={"x-queue-type": "classic"})
        finally:
            await queue.delete(if_unused=False, if_empty=False)


async def test_rabbitmq_has_no_guest(stack: dict[str, str]) -> None:
    url = urlsplit(stack["SHOPMESH_AMQP_URL"])
    with pytest.raises(ProbableAuthenticationError):
        await aio_pika.connect(f"amqp://guest:guest@{url.hostname}:{url.port}/", timeout=10)


def test_smtp_sink_stores_each_mail(stack: dict[str, str]) -> None:
    new = Path(stack["SHOPMESH_MAILDIR"]) / "new"
    before = set(new.iterdir()) if new.is_dir() else set()
    token = uuid.uuid4().hex
    mail = EmailMessage()
    mail["From"] = "shop@shopmesh.test"
    mail["To"] = "customer@shopmesh.test"
    mail["Subject"] = f"stack test {token}"
    mail.set_content("Your order has shipped.")
    with smtplib.SMTP(
        stack["SHOPMESH_SMTP_HOST"], int(stack["SHOPMESH_SMTP_PORT"]), timeout=10
    ) as smtp:
        smtp.send_message(mail)
    added: set[Path] = set()
    for _ in range(50):
        added = set(new.iterdir()) - before if new.is_dir() else set()
        if added:
            break
        time.sleep(0.1)
    assert len(added) == 1, f"expected one new file in {new}, found {len(added)}"
    assert token in added.pop().read_text()
