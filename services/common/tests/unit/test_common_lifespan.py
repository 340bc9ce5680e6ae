"""`shopmesh_common.lifespan`: what `service_lifespan` opens, in which order it lets go,
the outbox relay it starts on request and the database readiness check (fake database and
migrations from conftest; the real ones are exercised by the services' integration tests)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest
from fastapi import FastAPI

from shopmesh_common import lifespan
from shopmesh_common.lifespan import database_readiness, service_lifespan, wait_for_database
from shopmesh_common.outbox import OutboxRelay
from shopmesh_common.settings import ServiceSettings

PACKAGE = "shopmesh_shop"


def shop_settings(**values: Any) -> ServiceSettings:
    return ServiceSettings(
        service_name="shop", postgres_url="postgresql://pg", database="shop_db", **values
    )


@pytest.mark.parametrize(
    ("run_migrations", "expected"),
    [
        pytest.param(True, [(PACKAGE, "postgresql://pg/shop_db")], id="migrates"),
        pytest.param(False, [], id="no-migrations"),
    ],
)
async def test_migrates_then_connects_and_shares_what_it_opened(
    databases: list[Any],
    upgraded: list[tuple[str, str]],
    run_migrations: bool,
    expected: list[tuple[str, str]],
) -> None:
    app = FastAPI()
    settings = shop_settings(run_migrations=run_migrations, db_pool_size=7)
    async with service_lifespan(app, settings, package=PACKAGE) as runtime:
        (db,) = databases
        assert (db.url, db.max_size, db.state) == ("postgresql://pg/shop_db", 7, "connected")
        assert (runtime.db, app.state.db) == (db, db)
        assert (runtime.settings, app.state.settings) == (settings, settings)
        assert app.state.background is runtime.background
        assert database_readiness(app) == [db.ping]
    assert upgraded == expected
    assert db.state == "closed"


async def test_lets_go_of_tasks_then_closers_last_first_then_the_database(
    databases: list[Any], upgraded: list[tuple[str, str]]
) -> None:
    steps: list[tuple[str, str]] = []
    started = asyncio.Event()

    async def work() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            steps.append(("task cancelled", databases[0].state))

    def closer(name: str) -> Any:
        async def close() -> None:
            steps.append((name, databases[0].state))

        return close

    async with service_lifespan(FastAPI(), shop_settings(), package=PACKAGE) as runtime:
        runtime.on_close(closer("clients"))
        runtime.background.start("work", work)
        runtime.on_close(closer("runner"))
        await started.wait()

    assert steps == [
        ("task cancelled", "connected"),
        ("runner", "connected"),
        ("clients", "connected"),
    ]
    assert databases[0].state == "closed"


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param("start", id="start-up fails"),
        pytest.param("closer", id="a closer fails"),
    ],
)
async def test_the_database_closes_whatever_failed(
    databases: list[Any], upgraded: list[tuple[str, str]], failure: str
) -> None:
    async def close() -> None:
        if failure == "closer":
            raise ZeroDivisionError

    async def serve() -> None:
        async with service_lifespan(FastAPI(), shop_settings(), package=PACKAGE) as runtime:
            runtime.on_close(close)
            if failure == "start":
                raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await serve()
    assert databases[0].state == "closed"


@pytest.mark.parametrize(
    ("relay_enabled", "tasks"),
    [
        pytest.param(True, ["outbox-relay"], id="relay on"),
        pytest.param(False, [], id="relay off"),
    ],
)
async def test_the_outbox_relay_runs_only_when_enabled(
    databases: list[Any], upgraded: list[tuple[str, str]], relay_enabled: bool, tasks: list[str]
) -> None:
    settings = shop_settings(relay_enabled=relay_enabled, amqp_url="amqp://u:p@127.0.0.1:1/")
    async with service_lifespan(FastAPI(), settings, package=PACKAGE) as runtime:
        relay = runtime.start_outbox_relay()
        running = [t.get_name() for t in asyncio.all_tasks() if t.get_name() == "outbox-relay"]
    assert running == tasks
    assert isinstance(relay, OutboxRelay) is relay_enabled


class FakeConnection:
    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("answers", "raised", "tries"),
    [
        pytest.param([], None, 1, id="up-at-once"),
        pytest.param([ConnectionRefusedError()], None, 2, id="server-not-listening-yet"),
        pytest.param(
            [asyncpg.CannotConnectNowError("starting up")] * 2, None, 3, id="server-starting"
        ),
        pytest.param(
            [asyncpg.InvalidCatalogNameError("no db")], None, 2, id="database-not-created-yet"
        ),
        pytest.param(
            [asyncpg.InvalidPasswordError("wrong")],
            asyncpg.InvalidPasswordError,
            1,
            id="wrong-password-raises-at-once",
        ),
        pytest.param([ConnectionRefusedError()] * 100, OSError, None, id="never-up-raises"),
    ],
)
async def test_wait_for_database_retries_only_a_server_that_is_not_up_yet(
    monkeypatch: pytest.MonkeyPatch,
    answers: list[BaseException],
    raised: type[BaseException] | None,
    tries: int | None,
) -> None:
    calls: list[str] = []

    async def connect(url: str, **options: object) -> FakeConnection:
        calls.append(url)
        if len(calls) <= len(answers):
            raise answers[len(calls) - 1]
        return FakeConnection()

    monkeypatch.setattr(lifespan.asyncpg, "connect", connect)
    if raised is None:
        await wait_for_database("postgresql://pg/db", within=30)
    else:
        with pytest.raises(raised):
            await wait_for_database("postgresql://pg/db", within=0.5)
    if tries is not None:
        assert len(calls) == tries
    else:
        assert 1 < len(calls) < len(answers)
