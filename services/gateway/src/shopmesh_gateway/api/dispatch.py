"""The gateway's public routes, dispatched from their own table instead of FastAPI's router.

A pure ASGI layer, the innermost of the app's middlewares (create_app's
`inner_middleware`): a request whose method and path match one of the public routes
(api.routes) runs that route's endpoint at once; anything else (another method, a
trailing slash, the admin API, health, metrics, /docs) goes on to FastAPI as before.

Why: every request of the shop passes the gateway, and FastAPI's way to the same
endpoint (its exception middleware, AsyncExitStack, the router walking the included
routers and trying each route's regex in turn) cost about 25 µs of CPU per proxied
request, an eighth of the gateway's own work at the time (py-spy under wrk). Here the
routes are grouped by method once, routes without parameters compare their path, and
the few with parameters try their regex.

Nothing the router did is lost: the scope gets `route`, `endpoint` and `path_params`
(metrics and access lines read the route template from `route`), and exceptions reach
the app's exception handlers (problem+json) through the same Starlette
ExceptionMiddleware, built from the same handlers. The routes stay registered on the
FastAPI router too, which is what OpenTelemetry's FastAPI instrumentation names server
spans from. They must not overlap routes registered before them (the public paths do
not: /api/..., /.well-known/jwks.json), since this layer answers first.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send


class RouteDispatcher:
    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute]) -> None:
        self.app = app
        # Per method, in registration order: the first that matches wins, as in Starlette.
        self._by_method: dict[str, list[Route]] = {}
        for route in routes:
            if not isinstance(route, Route) or not route.methods:
                raise TypeError(f"only plain routes with methods are dispatched: {route!r}")
            for method in route.methods:
                self._by_method.setdefault(method, []).append(route)
        self._exceptions: ExceptionMiddleware | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Behind a root_path (a mount) FastAPI's router does the path arithmetic.
        if scope["type"] == "http" and not scope.get("root_path"):
            candidates = self._by_method.get(scope["method"])
            if candidates is not None:
                path = scope["path"]
                for route in candidates:
                    params = _match(route, path)
                    if params is not None:
                        scope["route"] = route
                        scope["endpoint"] = route.endpoint
                        scope["path_params"] = params
                        await self._exception_middleware(scope)(scope, receive, send)
                        return
        await self.app(scope, receive, send)

    def _exception_middleware(self, scope: Scope) -> ExceptionMiddleware:
        # Built on the first request, when the app's handlers are final; the same handlers
        # Starlette gives its own ExceptionMiddleware (500 and Exception belong to
        # ServerErrorMiddleware, further out).
        if self._exceptions is None:
            app: Any = scope["app"]
            handlers = {
                key: handler
                for key, handler in app.exception_handlers.items()
                if key not in (500, Exception)
            }
            self._exceptions = ExceptionMiddleware(_run_route, handlers=handlers, debug=app.debug)
        return self._exceptions


def _match(route: Route, path: str) -> dict[str, Any] | None:
    if not route.param_convertors:
        return {} if path == route.path else None
    found = route.path_regex.match(path)
    if found is None:
        return None
    convertors = route.param_convertors
    return {name: convertors[name].convert(value) for name, value in found.groupdict().items()}


async def _run_route(scope: Scope, receive: Receive, send: Send) -> None:
    await scope["route"].app(scope, receive, send)
