"""The FastAPI factory every service uses: problem+json, health, metrics, background tasks.

`create_app` returns an app with `/health/live` (the process answers), `/health/ready`
(every readiness check passes: database, broker consumers, ...), `/metrics` (Prometheus)
and RED metrics per route with the label names every service shares; every other route
needs a service token when SHOPMESH_SERVICE_TOKEN_SECRET is set (service_auth).
Long-running work (outbox relay, consumers, saga recovery, sweepers) runs as `Background`
tasks that start with the app and are cancelled when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import PROBLEM_JSON, install_problem_handlers
from .service_auth import install_service_auth
from .telemetry import install_telemetry

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


class MetricsMiddleware:
    """Counts and times every request by route template (pure ASGI: no per-request copies)."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

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
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            HTTP_REQUESTS.labels(self.service, route, method, f"{status // 100}xx").inc()
            HTTP_LATENCY.labels(self.service, route, method).observe(time.perf_counter() - started)


def create_app(
    *,
    service: str,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]],
    routers: Sequence[APIRouter],
    readiness: Callable[[FastAPI], Sequence[ReadinessCheck]] = lambda _app: (),
) -> FastAPI:
    """A service app with the shared health, metrics and error contract."""
    app = FastAPI(title=f"ShopMesh {service}", lifespan=lifespan)
    install_problem_handlers(app)
    # Service auth inside telemetry: a refused call still gets a trace id and an access line.
    install_service_auth(app, service)
    install_telemetry(app, service)
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

    app.add_middleware(MetricsMiddleware, service=service)
    return app


@asynccontextmanager
async def no_lifespan(_app: FastAPI) -> AsyncIterator[None]:
    """A lifespan that does nothing (tests, tools)."""
    yield
