"""`create_app`'s one per-request middleware (ServiceMiddleware: RED metrics by route
template, X-Trace-Id, the access line), the middlewares a service puts inside it, and the
garbage collector tuned while the app runs."""

from __future__ import annotations

import contextlib
import gc
import io
import itertools
import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import structlog
from fastapi import APIRouter, FastAPI
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from shopmesh_common import logs
from shopmesh_common.app import YOUNG_GENERATION, create_app, no_lifespan
from shopmesh_common.logs import access_log_sample, configure_logging
from shopmesh_common.problems import Problem

TRACER = TracerProvider().get_tracer("test")
_services = itertools.count()


def make_app(inner: list[Middleware] | None = None) -> tuple[FastAPI, str]:
    """An app of a service name no other test uses (its metrics start from nothing)."""
    service = f"app-tests-{next(_services)}"
    router = APIRouter()

    @router.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        if item_id == "gone":
            raise Problem(410, "gone for good", type_="gone")
        return {"id": item_id}

    app = create_app(
        service=service, lifespan=no_lifespan, routers=[router], inner_middleware=inner or []
    )
    return app, service


def requests_total(service: str, route: str, method: str, status_class: str) -> float:
    labels = {"service": service, "route": route, "method": method, "status_class": status_class}
    return REGISTRY.get_sample_value("shopmesh_http_requests_total", labels) or 0.0


async def call(app: ASGIApp, method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path)


@pytest.mark.parametrize(
    ("method", "path", "route", "status_class"),
    [
        pytest.param("GET", "/items/7", "/items/{item_id}", "2xx", id="by route template"),
        pytest.param("GET", "/items/gone", "/items/{item_id}", "4xx", id="a problem"),
        pytest.param("POST", "/items/7", "/items/{item_id}", "4xx", id="405"),
        pytest.param("GET", "/nowhere", "unmatched", "4xx", id="no route"),
    ],
)
async def test_every_request_is_counted_by_route_template(
    method: str, path: str, route: str, status_class: str
) -> None:
    app, service = make_app()

    for _ in range(2):
        await call(app, method, path)

    assert requests_total(service, route, method, status_class) == 2
    labels = {"service": service, "route": route, "method": method}
    count = REGISTRY.get_sample_value("shopmesh_http_request_duration_seconds_count", labels)
    assert count == 2


class SpanAround:
    """Stands in for the FastAPI instrumentation: the request runs inside a span."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.trace_id = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with TRACER.start_as_current_span("request") as span:
            self.trace_id = format(span.get_span_context().trace_id, "032x")
            await self.app(scope, receive, send)


@contextlib.contextmanager
def logs_to_a_buffer() -> Iterator[io.StringIO]:
    """configure_logging, its stdout handler writing to a buffer; the root logger is restored."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_logging("app-tests")
    buffer = io.StringIO()
    (stdout,) = [h for h in root.handlers if isinstance(h, logs.JsonStdoutHandler)]
    assert isinstance(stdout, logging.StreamHandler)
    stdout.setStream(buffer)
    try:
        yield buffer
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
        structlog.reset_defaults()
        logs._access_sample = 1.0  # what SHOPMESH_ACCESS_LOG_SAMPLE set, for this test only


@pytest.fixture
def access_lines() -> Iterator[io.StringIO]:
    with logs_to_a_buffer() as buffer:
        yield buffer


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        pytest.param("/items/7", [("GET", "/items/{item_id}", 200)], id="a route"),
        pytest.param("/nowhere", [("GET", "/nowhere", 404)], id="no route: the path"),
        pytest.param("/health/live", [], id="probes are not logged"),
    ],
)
async def test_trace_id_and_one_access_line_per_request(
    access_lines: io.StringIO, path: str, logged: list[tuple[str, str, int]]
) -> None:
    app, _ = make_app()
    traced = SpanAround(app)

    answer = await call(traced, "GET", path)

    assert answer.headers["x-trace-id"] == traced.trace_id
    lines = [json.loads(line) for line in access_lines.getvalue().splitlines()]
    access = [line for line in lines if line.get("logger") == "shopmesh.access"]
    assert [(x["http_method"], x["http_route"], x["http_status"]) for x in access] == logged
    assert all(x["trace_id"] == traced.trace_id for x in access)


@pytest.mark.parametrize(
    ("value", "share"),
    [(None, 1.0), ("0.25", 0.25), ("0", 0.0), ("7", 1.0), ("-1", 0.0), ("half", 1.0)],
)
def test_access_log_sample_setting(value: str | None, share: float) -> None:
    environ = {} if value is None else {"SHOPMESH_ACCESS_LOG_SAMPLE": value}
    assert access_log_sample(environ) == share


@pytest.mark.parametrize(
    ("path", "lines"),
    [
        pytest.param("/items/7", 0, id="a 200: sampled out"),
        pytest.param("/items/gone", 3, id="a 410: always logged"),
    ],
)
async def test_a_sampled_access_log_keeps_every_error(
    monkeypatch: pytest.MonkeyPatch, path: str, lines: int
) -> None:
    monkeypatch.setenv("SHOPMESH_ACCESS_LOG_SAMPLE", "0")
    with logs_to_a_buffer() as buffer:
        app, _ = make_app()
        for _ in range(3):
            await call(app, "GET", path)
    access = [x for x in map(json.loads, buffer.getvalue().splitlines()) if "http_route" in x]
    assert len(access) == lines


def test_uvicorns_own_access_logger_has_no_handler(access_lines: io.StringIO) -> None:
    # uvicorn formats each request's line whenever hasHandlers() is true (even to drop it).
    access = logging.getLogger("uvicorn.access")
    ours = [h for h in access.handlers if type(h).__module__ != "_pytest.logging"]
    assert (access.propagate, ours) == (False, [])
    assert logging.getLogger("uvicorn.error").propagate


class Stamp:
    """A service's own middleware: marks the scope, and sees what create_app's see."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/stamped":

            async def send_stamped(message: dict[str, object]) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [(b"x-stamp", b"1")]}
                await send(message)

            await send_stamped({"type": "http.response.start", "status": 204})
            await send_stamped({"type": "http.response.body", "body": b""})
            return
        await self.app(scope, receive, send)


async def test_inner_middleware_answers_inside_the_shared_ones() -> None:
    app, service = make_app(inner=[Middleware(Stamp)])
    traced = SpanAround(app)

    answer = await call(traced, "GET", "/stamped")

    assert (answer.status_code, answer.headers["x-stamp"]) == (204, "1")
    assert answer.headers["x-trace-id"] == traced.trace_id  # ServiceMiddleware was outside
    assert requests_total(service, "unmatched", "GET", "2xx") == 1


async def test_the_collector_is_tuned_while_the_app_runs() -> None:
    before = gc.get_threshold()
    app, _ = make_app()

    async with app.router.lifespan_context(app):
        assert gc.get_threshold() == (YOUNG_GENERATION, *before[1:])
        assert gc.get_freeze_count() > 0

    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
