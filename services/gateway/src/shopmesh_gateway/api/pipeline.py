"""The steps every public route runs, in order, and the object that holds their parts.

    authenticate (401 / 403)  ->  rate limit (429)  ->  Idempotency-Key (400)
      ->  Content-Type (415)  ->  body size (413)  ->  schema (422)  ->  forward

Cheap refusals first, and nothing reaches a service before every check passed. Rate-limit
headers are attached to whatever answer follows the count (api.edge), 4xx included.
`Gateway` is built once by main's lifespan and kept on app.state; the route handlers in
api.routes call `admit` and `forward`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from shopmesh_common.idempotency import parse_key
from shopmesh_common.problems import Problem
from shopmesh_common.resilience import ClientFactory, DownstreamResponse, DownstreamUnavailable

from ..adapters.jwks import JwksCache
from ..domain.identity import Identity
from ..domain.routes import Access, RouteSpec
from ..service_layer.api_keys import ApiKeys
from ..service_layer.authentication import Authenticator
from ..service_layer.composition import UserOrders
from ..service_layer.forwarding import client_response, unavailable, upstream_headers
from ..service_layer.rate_limiting import UNAVAILABLE, RateLimiting
from .body import read_json
from .edge import add_response_header, request_id


@dataclass(frozen=True, slots=True)
class Admitted:
    """A request that passed every check: who sent it and what it carries."""

    identity: Identity | None
    body: BaseModel | None
    headers: dict[str, str]  # for the upstream call


@dataclass(kw_only=True)
class Gateway:
    clients: ClientFactory
    authenticator: Authenticator
    rate_limiting: RateLimiting
    jwks: JwksCache
    api_keys: ApiKeys
    user_orders: UserOrders
    timeouts: Mapping[str, float]
    max_body_bytes: int

    async def admit(self, request: Request, route: RouteSpec) -> Admitted:
        """Run the checks of `route` on `request`; raises the Problem of the first that fails."""
        scope = request.scope
        identity = None
        if route.access is Access.AUTHENTICATED:
            identity = await self.authenticator.authenticate(request.headers, route)
        client = scope.get("client")
        verdict = await self.rate_limiting.check(
            route.name,
            subject=None if identity is None else identity.subject,
            ip=client[0] if client else "unknown",
        )
        for name, value in verdict.headers:
            add_response_header(scope, name, value)
        if route.no_store:
            add_response_header(scope, "Cache-Control", "no-store")
        if not verdict.allowed:
            if verdict.exceeded_scope == UNAVAILABLE:
                raise Problem(
                    503, "rate limits cannot be checked right now", type_="rate-limit-unavailable"
                )
            raise Problem(
                429,
                f"too many requests to {route.name} (per {verdict.exceeded_scope}); "
                "see Retry-After",
                type_="rate-limited",
            )
        key = None
        if route.idempotency_key:
            key = parse_key(request.headers.get("idempotency-key"))
        body = None
        if route.body is not None:
            body = await read_json(request, route.body, max_bytes=self.max_body_bytes)
        headers = upstream_headers(
            request.headers, identity=identity, request_id=request_id(scope), idempotency_key=key
        )
        return Admitted(identity=identity, body=body, headers=headers)

    async def call(
        self, route: RouteSpec, admitted: Admitted, *, path: str | None = None
    ) -> DownstreamResponse:
        """Send the admitted request to the route's service; 503 / 504 when it is down."""
        json: Any = None if admitted.body is None else admitted.body.model_dump(mode="json")
        try:
            return await self.clients[route.upstream].request(
                route.method,
                path or route.upstream_path,
                json=json,
                headers=admitted.headers,
                timeout=self.timeouts[route.name],
            )
        except DownstreamUnavailable as error:
            raise unavailable(error) from error

    async def forward(self, request: Request, route: RouteSpec) -> Response:
        """admit, call, and pass the answer back."""
        admitted = await self.admit(request, route)
        answer = await self.call(route, admitted)
        return client_response(answer, upstream=route.upstream)
