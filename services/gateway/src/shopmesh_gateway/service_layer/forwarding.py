"""How a request goes upstream and how the answer comes back.

Request headers are built from an allow-list, not copied: a client's X-User-Id,
X-User-Email, X-Api-Key-Id, X-Forwarded-User, any X-ShopMesh-Identity-* header, its
Authorization and its cookies never reach a service. What the services learn about the
caller is the verified identity the gateway adds (X-User-Id = the token's `sub` or
`key:<id>`, X-User-Email, X-Api-Key-Id), plus X-Request-ID and, where the route takes
one, the Idempotency-Key. Trace context is added by the resilient client.

Answers pass through with an allow-list of headers too (Location rewritten into /api).
A service's 5xx becomes a 502 problem (its details stay inside); a service that cannot
be reached, times out or whose circuit is open becomes 503 / 504 with Retry-After.
Used by api.pipeline and service_layer.composition.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.responses import Response

from shopmesh_common.problems import Problem
from shopmesh_common.resilience import DownstreamResponse, DownstreamUnavailable

from ..domain.identity import Identity

IDENTITY_HEADERS = frozenset({"x-user-id", "x-user-email", "x-api-key-id", "x-forwarded-user"})
IDENTITY_PREFIX = "x-shopmesh-identity-"
FORWARDED_REQUEST_HEADERS = ("accept", "accept-language")
PASSED_RESPONSE_HEADERS = (
    "content-type",
    "cache-control",
    "etag",
    "retry-after",
    "idempotent-replayed",
    "x-shopmesh-stale",
    "age",
)


def is_identity_header(name: str) -> bool:
    """True for headers that claim who the caller is: only the gateway may set them."""
    lower = name.lower()
    return lower in IDENTITY_HEADERS or lower.startswith(IDENTITY_PREFIX)


assert not any(map(is_identity_header, FORWARDED_REQUEST_HEADERS))


def upstream_headers(
    client: Mapping[str, str],
    *,
    identity: Identity | None,
    request_id: str,
    idempotency_key: str | None = None,
) -> dict[str, str]:
    """The headers a service receives for a client request with `client` headers."""
    headers = {name: client[name] for name in FORWARDED_REQUEST_HEADERS if name in client}
    headers["x-request-id"] = request_id
    if idempotency_key is not None:
        headers["idempotency-key"] = idempotency_key
    if identity is not None:
        headers["x-user-id"] = identity.subject
        if identity.email is not None:
            headers["x-user-email"] = identity.email
        if identity.api_key_id is not None:
            headers["x-api-key-id"] = identity.api_key_id
    return headers


def unavailable(error: DownstreamUnavailable) -> Problem:
    """The problem for a service that did not answer usefully."""
    timed_out = error.reason == "timeout"
    return Problem(
        504 if timed_out else 503,
        f"{error.downstream} is unavailable ({error.reason})",
        type_="upstream-unavailable",
        headers={"Retry-After": "1"},
    )


def bad_gateway(upstream: str, status: int) -> Problem:
    return Problem(502, f"{upstream} failed (HTTP {status})", type_="upstream-failed")


def client_response(answer: DownstreamResponse, *, upstream: str) -> Response:
    """The client's response for a service's `answer`."""
    if answer.status >= 500:
        raise bad_gateway(upstream, answer.status)
    headers = {
        name: value
        for name in PASSED_RESPONSE_HEADERS
        if (value := answer.headers.get(name)) is not None
    }
    location = answer.headers.get("location")
    if location is not None and location.startswith("/"):
        headers["location"] = f"/api{location}"
    return Response(content=answer.body, status_code=answer.status, headers=headers)
