"""`install_service_auth`: the ASGI middleware that requires a service token on every route
but /health/live, /health/ready and /metrics. Called by `app.create_app` for every service.

Refusals are problem+json: 401 `urn:shopmesh:unauthenticated` (missing, malformed, expired,
wrong audience, ...) or 403 `urn:shopmesh:caller-not-allowed`, never a 500; each is counted
in `shopmesh_service_auth_rejected_total{service,reason}`.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI
from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from ..problems import Problem, problem_response
from .tokens import Caller, ServiceAuthSettings, ServiceTokenVerifier, TokenRejected

EXEMPT_PATHS = frozenset({"/health/live", "/health/ready", "/metrics"})

log = logging.getLogger(__name__)

REJECTED = Counter(
    "shopmesh_service_auth_rejected_total",
    "Requests refused for their service token, by reason",
    ["service", "reason"],
)


def refusal(rejected: TokenRejected, service: str) -> Problem:
    """The problem+json answer to a refused token."""
    if rejected.status == 403:
        return Problem(403, rejected.detail, type_="caller-not-allowed", reason=rejected.reason)
    challenge = f'Bearer realm="{service}", error="invalid_token"'
    if rejected.reason == "missing":
        challenge = f'Bearer realm="{service}"'  # RFC 6750 3.1: no error code without a token
    return Problem(
        401,
        rejected.detail,
        type_="unauthenticated",
        headers={"WWW-Authenticate": challenge},
        reason=rejected.reason,
    )


def bearer_token(scope: Scope) -> str:
    """The token of `Authorization: Bearer <token>` (TokenRejected when there is none)."""
    headers: list[tuple[bytes, bytes]] = scope["headers"]
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            break
    raise TokenRejected(
        401, "missing", "a service token is required: Authorization: Bearer <token>"
    )


class ServiceAuthMiddleware:
    """Refuses every request without a valid service token, except the exempt paths
    (pure ASGI: no per-request copies, unlike BaseHTTPMiddleware)."""

    def __init__(self, app: ASGIApp, *, service: str, verifier: ServiceTokenVerifier) -> None:
        self.app = app
        self.service = service
        self.verifier = verifier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        try:
            caller = self._verify(scope)
        except TokenRejected as rejected:
            await self._refuse(rejected, scope, receive, send)
            return
        scope.setdefault("state", {})["caller"] = caller
        await self.app(scope, receive, send)

    def _verify(self, scope: Scope) -> Caller:
        token = bearer_token(scope)
        try:
            return self.verifier.verify(token)
        except TokenRejected:
            raise
        except Exception as error:  # a token PyJWT chokes on is the client's fault, never a 500
            log.exception("%s: unexpected error verifying a service token", self.service)
            raise TokenRejected(401, "invalid", "service token refused: malformed") from error

    async def _refuse(
        self, rejected: TokenRejected, scope: Scope, receive: Receive, send: Send
    ) -> None:
        REJECTED.labels(self.service, rejected.reason).inc()
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008, "reason": rejected.detail[:120]})
            return
        response = problem_response(refusal(rejected, self.service), scope["path"])
        await response(scope, receive, send)


def install_service_auth(
    app: FastAPI, service: str, *, settings: ServiceAuthSettings | None = None
) -> None:
    """Require service tokens on `app` when SHOPMESH_SERVICE_TOKEN_SECRET is set."""
    settings = settings or ServiceAuthSettings()
    if settings.secret is None:
        log.warning(
            "%s: SHOPMESH_SERVICE_TOKEN_SECRET is not set: internal endpoints are "
            "unauthenticated (fine inside the mesh, where mTLS and AuthorizationPolicy guard them)",
            service,
        )
        return
    if not settings.require_service_token:
        log.warning("%s: SHOPMESH_REQUIRE_SERVICE_TOKEN=false: every route is public", service)
        return
    verifier = ServiceTokenVerifier(
        settings.secret, service=service, allowed_callers=settings.allowed_callers
    )
    app.add_middleware(ServiceAuthMiddleware, service=service, verifier=verifier)
    callers = ", ".join(sorted(settings.allowed_callers)) or "any service holding the secret"
    log.info("%s: service tokens required; allowed callers: %s", service, callers)
