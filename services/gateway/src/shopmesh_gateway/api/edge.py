"""The edge middleware: request ids, security headers and per-request response headers.

Pure ASGI (no per-request Request/Response objects, no body copies), outermost in the
gateway's stack so that every answer gets these headers, problems and 404s included:

- X-Request-ID: the client's, when it is a plain token of at most 128 characters, else a
  new one (a random prefix per process and a counter: unique, and no syscall per
  request); passed upstream (service_layer.forwarding), sent back, and bound to the log
  context of the request.
- Security headers for an API that serves no HTML: nosniff, no framing, no referrer,
  HSTS, and a Content-Security-Policy of `default-src 'none'`.
- Headers a route decided on before it knew its final answer (RateLimit-*, Cache-Control
  no-store): `add_response_header(scope, ...)` collects them for whatever response goes out.
"""

from __future__ import annotations

import itertools
import os
import re

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID = "shopmesh.request_id"
_EXTRA_HEADERS = "shopmesh.response_headers"
_REQUEST_ID_HEADER = b"x-request-id"
_VALID_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_ID_PREFIX = os.urandom(8).hex().encode()
_ID_COUNTER = itertools.count(1)

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"strict-transport-security", b"max-age=63072000; includeSubDomains"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)


def request_id(scope: Scope) -> str:
    """The id of the request being handled (set by EdgeMiddleware)."""
    value: str = scope.get(REQUEST_ID, "")
    return value


def add_response_header(scope: Scope, name: str, value: str) -> None:
    """Send `name: value` with the response of this request, whatever it turns out to be."""
    extra: list[tuple[bytes, bytes]] | None = scope.get(_EXTRA_HEADERS)
    if extra is not None:
        extra.append((name.lower().encode("latin-1"), value.encode("latin-1")))


class EdgeMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = b""
        for name, value in scope["headers"]:
            if name == _REQUEST_ID_HEADER:
                rid = value
                break
        if not _VALID_REQUEST_ID.match(rid):
            rid = b"%s-%x" % (_ID_PREFIX, next(_ID_COUNTER))
        scope[REQUEST_ID] = rid.decode()
        extra: list[tuple[bytes, bytes]] = []
        scope[_EXTRA_HEADERS] = extra
        structlog.contextvars.bind_contextvars(request_id=scope[REQUEST_ID])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", ()), *SECURITY_HEADERS, *extra]
                headers.append((_REQUEST_ID_HEADER, rid))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
