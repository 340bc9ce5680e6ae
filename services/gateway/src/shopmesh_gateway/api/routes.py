"""The gateway's public routes (contract: shared/DESIGN.md, "Public API at the gateway").

Plain pass-through routes (sign-up, login, products, placing an order) run the pipeline
and forward; three routes do more: GET /api/orders/{id} shows an order only to its owner
(anyone else gets the same 404 as for a missing order, so ids cannot be probed),
GET /api/users/{id}/orders composes users and order-history for that user only, and
GET /.well-known/jwks.json serves the JWKS the gateway itself verifies with (cached).
The route table with names, timeouts and schemas is domain.routes.

The routes are plain Starlette routes, not FastAPI path operations: they read and check
their own input (api.pipeline), so FastAPI's per-request dependency solving and response
validation would only cost time (about 30 µs of CPU a request, measured here); they do
not show in /docs for the same reason (shared/DESIGN.md is the contract).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.responses import Response

from shopmesh_common.problems import Problem

from ..adapters.jwks import KeysUnavailable
from ..domain.routes import (
    CREATE_ORDER,
    JWKS,
    LOGIN,
    PRODUCTS,
    READ_ORDER,
    SIGNUP,
    USER_ORDERS,
    RouteSpec,
    is_safe_parameter,
)
from ..service_layer.forwarding import bad_gateway
from .deps import gateway

router = APIRouter()

ORDER_FIELDS = ("id", "status", "reason", "items", "total_cents")
JWKS_MAX_AGE_SECONDS = 60


def _forwarding(route: RouteSpec) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await gateway(request).forward(request, route)

    endpoint.__name__ = route.name.replace(".", "_")
    endpoint.__doc__ = f"{route.method} {route.upstream}{route.upstream_path}"
    return endpoint


for _route in (SIGNUP, LOGIN, PRODUCTS, CREATE_ORDER):
    router.add_route(_route.path, _forwarding(_route), methods=[_route.method], name=_route.name)


def _no_order(order_id: str) -> Problem:
    return Problem(404, f"no order {order_id}", type_="order-not-found")


async def read_order(request: Request) -> Response:
    """One of the caller's orders: `{id, status, reason, items, total_cents}`."""
    order_id: str = request.path_params["order_id"]
    gw = gateway(request)
    admitted = await gw.admit(request, READ_ORDER)
    try:
        canonical = str(uuid.UUID(order_id))
    except ValueError:
        raise _no_order(order_id) from None
    answer = await gw.call(READ_ORDER, admitted, path=f"/orders/{canonical}")
    if answer.status >= 500:
        raise bad_gateway(READ_ORDER.upstream, answer.status)
    if answer.status != 200:
        if answer.status == 404:
            raise _no_order(order_id)
        raise bad_gateway(READ_ORDER.upstream, answer.status)
    try:
        order = answer.json()
    except ValueError:
        raise bad_gateway(READ_ORDER.upstream, answer.status) from None
    assert admitted.identity is not None
    if not isinstance(order, dict) or order.get("customer_id") != admitted.identity.subject:
        raise _no_order(order_id)
    return JSONResponse({name: order.get(name) for name in ORDER_FIELDS})


async def user_orders(request: Request) -> Response:
    """The user and their orders, composed: `{user, orders, degraded, unavailable?, stale?}`."""
    user_id: str = request.path_params["user_id"]
    gw = gateway(request)
    admitted = await gw.admit(request, USER_ORDERS)
    assert admitted.identity is not None
    if not is_safe_parameter(user_id) or user_id != admitted.identity.subject:
        raise Problem(403, "you may only see your own orders", type_="forbidden")
    body = await gw.user_orders.get(user_id, headers=admitted.headers)
    return JSONResponse(body)


async def jwks(request: Request) -> Response:
    """The keys that verify access tokens (users' JWKS, as this gateway has it cached)."""
    gw = gateway(request)
    await gw.admit(request, JWKS)
    try:
        document = await gw.jwks.document()
    except KeysUnavailable:
        raise Problem(
            503,
            "the signing keys are unavailable right now",
            type_="keys-unavailable",
            headers={"Retry-After": "1"},
        ) from None
    # The document is users' own JSON; re-encoding checks it is JSON and drops whitespace.
    return Response(
        json.dumps(json.loads(document), separators=(",", ":")),
        media_type="application/json",
        headers={"Cache-Control": f"public, max-age={JWKS_MAX_AGE_SECONDS}"},
    )


router.add_route(READ_ORDER.path, read_order, methods=["GET"], name=READ_ORDER.name)
router.add_route(USER_ORDERS.path, user_orders, methods=["GET"], name=USER_ORDERS.name)
router.add_route(JWKS.path, jwks, methods=["GET"], name=JWKS.name)
