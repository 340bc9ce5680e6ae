"""api.dispatch.RouteDispatcher: which requests it answers from its routes and which go on to
FastAPI, what the scope says afterwards, and errors through the app's problem handlers."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from shopmesh_common.problems import PROBLEM_JSON, Problem, install_problem_handlers
from shopmesh_gateway.api.dispatch import RouteDispatcher


async def describe(request: Request) -> Response:
    scope = request.scope
    by = "fastapi" if scope.get("past_the_dispatcher") else "dispatcher"
    return JSONResponse({"route": scope["route"].path, "params": scope["path_params"], "by": by})


async def refuse(_request: Request) -> Response:
    raise Problem(429, "slow down", type_="rate-limited")


ROUTES = [
    Route("/api/products", describe, methods=["GET"]),
    Route("/api/orders/{order_id}", describe, methods=["GET"]),
    Route("/api/orders", describe, methods=["POST"]),
    Route("/api/limited", refuse, methods=["GET"]),
]


class PastTheDispatcher:
    """Marks the requests the dispatcher let through to FastAPI's router."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["past_the_dispatcher"] = True
        await self.app(scope, receive, send)


def make_app() -> FastAPI:
    """Like the gateway: the routes on the FastAPI router too, the dispatcher in front."""
    app = FastAPI(
        middleware=[Middleware(RouteDispatcher, routes=ROUTES), Middleware(PastTheDispatcher)]
    )
    install_problem_handlers(app)
    for route in ROUTES:
        app.router.add_route(route.path, route.endpoint, methods=sorted(route.methods or ()))

    @app.get("/api/products/")
    async def with_slash(request: Request) -> dict[str, str]:
        return {"by": "fastapi" if request.scope.get("past_the_dispatcher") else "dispatcher"}

    return app


async def call(method: str, path: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, path)


@pytest.mark.parametrize(
    ("method", "path", "answer"),
    [
        pytest.param(
            "GET", "/api/products",
            {"route": "/api/products", "params": {}, "by": "dispatcher"},
            id="a route without parameters",
        ),
        pytest.param(
            "GET", "/api/orders/o-1",
            {"route": "/api/orders/{order_id}", "params": {"order_id": "o-1"}, "by": "dispatcher"},
            id="a route with a parameter",
        ),
        pytest.param(
            "POST", "/api/orders", {"route": "/api/orders", "params": {}, "by": "dispatcher"},
            id="by method",
        ),
        pytest.param("GET", "/api/products/", {"by": "fastapi"}, id="a trailing slash: FastAPI"),
    ],
)  # fmt: skip
async def test_routes_are_answered_from_the_table(
    method: str, path: str, answer: dict[str, Any]
) -> None:
    response = await call(method, path)

    assert (response.status_code, response.json()) == (200, answer)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("DELETE", "/api/orders/o-1", 405, id="another method"),
        pytest.param("GET", "/api/orders/a/b", 404, id="a longer path"),
        pytest.param("GET", "/elsewhere", 404, id="not a public route"),
    ],
)
async def test_what_the_table_does_not_hold_goes_on_to_fastapi(
    method: str, path: str, status: int
) -> None:
    assert (await call(method, path)).status_code == status


async def test_errors_go_through_the_apps_problem_handlers() -> None:
    response = await call("GET", "/api/limited")

    assert response.status_code == 429
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["type"] == "urn:shopmesh:rate-limited"
    assert response.json()["instance"] == "/api/limited"


async def websocket(socket: WebSocket) -> None:
    await socket.close()


def test_only_plain_routes_with_methods_are_dispatched() -> None:
    with pytest.raises(TypeError, match="plain routes"):
        RouteDispatcher(make_app(), routes=[WebSocketRoute("/ws", websocket)])
