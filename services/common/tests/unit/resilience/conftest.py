"""A real HTTP downstream on 127.0.0.1 for the resilience tests, and a way to build
clients against it.

The server answers by path, httpbin-style: `/status/{code}`, `/sleep/{seconds}`,
`/script/{name}` (answers the statuses listed in `script[path]` one per hit, the last
one for ever after), anything else 200. Every answer echoes the request as JSON
(header names lower-cased), and `hits` counts requests per path server side, so a test
sees what really went out.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web

from shopmesh_common.resilience import (
    BreakerSettings,
    ClientFactory,
    DownstreamSettings,
    ResilientClient,
)

SERVICE = "resilience-tests"
MakeClient = Callable[..., ResilientClient]

# Quick backoff, and a breaker that needs many calls, unless a test says otherwise.
FAST: dict[str, Any] = {
    "timeout_seconds": 1.0,
    "backoff_base_seconds": 0.001,
    "backoff_max_seconds": 0.005,
    "breaker": BreakerSettings(sliding_window_size=100, minimum_number_of_calls=100),
}

_names = itertools.count()


@pytest.fixture
def hits() -> Counter[str]:
    return Counter()


@pytest.fixture
def script() -> dict[str, list[int]]:
    return {}


@pytest.fixture
async def server_url(hits: Counter[str], script: dict[str, list[int]]) -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.Response:
        path = request.path
        hits[path] += 1
        kind, _, arg = path.strip("/").partition("/")
        status = 200
        if kind == "status":
            status = int(arg)
        elif kind == "sleep":
            await asyncio.sleep(float(arg))
        elif kind == "script":
            statuses = script[path]
            status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        echo = {
            "path": path,
            "method": request.method,
            "hit": hits[path],
            "query": dict(request.query),
            "headers": {name.lower(): value for name, value in request.headers.items()},
            "json": await request.json() if request.can_read_body else None,
        }
        return web.json_response(echo, status=status)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    yield f"http://{host}:{port}"
    await runner.cleanup()


@pytest.fixture
def refused_url() -> str:
    """A port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
async def make_client(server_url: str) -> AsyncIterator[MakeClient]:
    """make_client(**DownstreamSettings overrides, redis=, clock=, sleep=): a client for a
    downstream with a name no other test uses (so its metrics start from nothing)."""
    factories: list[ClientFactory] = []

    def make(**overrides: Any) -> ResilientClient:
        factory_args = {
            key: overrides.pop(key) for key in ("redis", "clock", "sleep") if key in overrides
        }
        defaults = FAST | {"name": f"downstream-{next(_names)}", "base_url": server_url}
        settings = DownstreamSettings(**(defaults | overrides))
        factory = ClientFactory(SERVICE, [settings], **factory_args)
        factories.append(factory)
        return factory[settings.name]

    yield make
    for factory in factories:
        await factory.close()


class _FakeClock:
    """Monotonic seconds that move only when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def _fake_clock() -> _FakeClock:
    return _FakeClock()


@pytest.fixture
def clock(_fake_clock: _FakeClock) -> Callable[[], float]:
    """A clock for the code under test: stands still until `advance_clock`."""
    return _fake_clock


@pytest.fixture
def advance_clock(_fake_clock: _FakeClock) -> Callable[[float], None]:
    return _fake_clock.advance
