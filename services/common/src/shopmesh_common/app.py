"""The FastAPI factory every service uses: problem+json, health, metrics, background tasks.

`create_app` returns an app with `/health/live` (the process answers), `/health/ready`
(every readiness check passes: database, broker consumers, ...), `/metrics` (Prometheus)
and RED metrics per route with the label names every service shares; every other route
needs a service token when SHOPMESH_SERVICE_TOKEN_SECRET is set (service_auth).
Long-running work (outbox relay, consumers, saga recovery, sweepers) runs as `Background`
tasks that start with the app and are cancelled when it stops. Building the app configures
the process's logging (`logs.configure_logging`: JSON lines with the trace id on stdout,
uvicorn's loggers included), so no service can forget it.

Per request, one pure ASGI middleware (`ServiceMiddleware`) does what every service adds
around its routes: the RED metrics, the `X-Trace-Id` header and the access-log line. They
were three middlewares; each layer costs a send wrapper, a frame and an await per ASGI
message, which the gateway (every request of the shop passes it) measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.middleware import Middleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logs import ACCESS_LOG_SKIP, configure_logging, log_access
from .problems import PROBLEM_JSON, install_problem_handlers
from .service_auth import install_service_auth
from .telemetry import instrument_app, trace_id_header

log = logging.getLogger(__name__)

HTTP_REQUESTS = Counter(
    "shopmesh_http_requests_total",
    "HTTP requests served, by route template, method and status class",
    ["service", "route", "method", "status_class"],
)
HTTP_LATENCY = Histogram(
    "shopmesh_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["service", "route", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

ReadinessCheck = Callable[[], Awaitable[None]]
# Container allocations between two collections of the youngest generation (default 700).
YOUNG_GENERATION = 10_000


class Background:
    """Named background tasks that live as long as the app; a crash is logged and restarted."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, name: str, factory: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run `factory()` until the app stops, restarting it after an unexpected error."""

        async def supervise() -> None:
            while True:
                try:
                    await factory()
                    return
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("background task %s crashed; restarting in 1 s", name)
                    await asyncio.sleep(1.0)

        self._tasks[name] = asyncio.create_task(supervise(), name=name)

    async def stop(self) -> None:
        """Cancel every task and wait for them."""
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()


class ServiceMiddleware:
    """RED metrics by route template, `X-Trace-Id` and the access line, for every request.

    Pure ASGI, one layer. Metrics: `shopmesh_http_requests_total` and
    `shopmesh_http_request_duration_seconds` by route template ("unmatched" when no route
    matched), their labelled children kept per (route, method, status) so that a request
    costs two dict lookups rather than two `labels()` calls. `X-Trace-Id` on every response
    served inside a trace (the FastAPI instrumentation's server span, outside this layer).
    The access line (logs.log_access) for every path but `access_log_skip`.
    """

    def __init__(
        self, app: ASGIApp, service: str, access_log_skip: Sequence[str] = ACCESS_LOG_SKIP
    ) -> None:
        self.app = app
        self.service = service
        self.access_log_skip = frozenset(access_log_skip)
        self._metrics: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                header = trace_id_header()
                if header is not None:
                    message = {**message, "headers": [*message.get("headers", ()), header]}
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            seconds = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", "unmatched")
            requests, latency = self._children(route, scope["method"], status)
            requests.inc()
            latency.observe(seconds)
            if scope["path"] not in self.access_log_skip:
                log_access(scope, status, seconds)

    def _children(self, route: str, method: str, status: int) -> tuple[Any, Any]:
        key = (route, method, status)
        children = self._metrics.get(key)
        if children is None:
            children = (
                HTTP_REQUESTS.labels(self.service, route, method, f"{status // 100}xx"),
                HTTP_LATENCY.labels(self.service, route, method),
            )
            self._metrics[key] = children
        return children


def create_app(
    *,
    service: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    routers: Sequence[APIRouter],
    readiness: Callable[[FastAPI], Sequence[ReadinessCheck]] = lambda _app: (),
    inner_middleware: Sequence[Middleware] = (),
) -> FastAPI:
    """A service app with the shared health, metrics and error contract.

    `inner_middleware` run inside the shared ones, outermost first, right before the
    routes (the gateway dispatches its public routes there): what they answer still gets
    metrics, the trace id, the access line and the service-token check."""
    # Before instrument_app: its OTLP log handler joins the JSON handler on the root logger.
    configure_logging(service)
    # FastAPI's own OpenTelemetry support stays off: telemetry.instrument_app traces every
    # service the same way (and FastAPI would otherwise look up three global providers,
    # reading os.environ, on every request to find out whether it should act).
    app = FastAPI(
        title=f"ShopMesh {service}",
        lifespan=_tuning_the_collector(lifespan),
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    install_problem_handlers(app)
    for middleware in reversed(inner_middleware):
        app.add_middleware(middleware.cls, *middleware.args, **middleware.kwargs)
    # Service auth inside ServiceMiddleware: a refused call still gets a trace id, an access
    # line and its count.
    install_service_auth(app, service)
    instrument_app(app, service)
    for router in routers:
        app.include_router(router)

    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["health"])
    async def ready() -> Response:
        failures = []
        for check in readiness(app):
            try:
                await asyncio.wait_for(check(), 2.0)
            except Exception as exc:
                failures.append(
                    f"{getattr(check, '__name__', 'check')}: {exc or type(exc).__name__}"
                )
        if failures:
            return JSONResponse(
                {
                    "type": "about:blank",
                    "title": "Service Unavailable",
                    "status": 503,
                    "detail": "; ".join(failures),
                },
                status_code=503,
                media_type=PROBLEM_JSON,
            )
        return JSONResponse({"status": "ok"})

    @app.get("/metrics", tags=["health"])
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(ServiceMiddleware, service=service)
    return app


def _tuning_the_collector(
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """`lifespan`, then the cyclic garbage collector tuned for serving, until it stops.

    - gc.freeze() once the app has started: everything loaded by then (modules, the app,
      pools, clients) lives as long as the process, and frozen, the collector no longer
      walks it on every full collection.
    - A youngest generation of YOUNG_GENERATION objects instead of 700: a request
      allocates hundreds of containers, so the default ran a collection every request or
      two, each promoting the objects of the requests in flight.

    Measured on the gateway under load (py-spy --native): a sixth of its CPU went to the
    collector before the freeze; the larger young generation then took another 10 µs of
    CPU off each request. Both are undone when the app stops (tests start many apps).
    """

    @asynccontextmanager
    async def lifespan_then_tune(app: FastAPI) -> AsyncIterator[None]:
        async with lifespan(app):
            thresholds = gc.get_threshold()
            gc.collect()  # what start-up left as garbage goes now, not into the frozen set
            gc.freeze()
            gc.set_threshold(YOUNG_GENERATION, *thresholds[1:])
            try:
                yield
            finally:
                gc.set_threshold(*thresholds)
                gc.unfreeze()

    return lifespan_then_tune


@asynccontextmanager
async def no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """A lifespan that does nothing (tests, tools)."""
    yield
