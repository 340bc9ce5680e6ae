"""The gateway's own Prometheus metrics (label `service` first, like every ShopMesh metric).

- `shopmesh_gateway_auth_failures_total{service, reason}`: refused credentials, by reason
  (expired, signature, algorithm, unknown_kid, api_key, scope, ...).
- `shopmesh_gateway_rate_limited_total{service, route, scope}`: 429s, by the route and the
  scope (user, ip) whose limit was exceeded.
- `shopmesh_gateway_rate_limit_errors_total{service, action}`: requests the limiter could
  not count because Redis failed, and what was done with them (allow, deny).
- `shopmesh_gateway_jwks_fetches_total{service, outcome}`: JWKS fetches from users.

Upstream calls are measured by the resilient client (shopmesh_downstream_*), requests by
create_app (shopmesh_http_*).
"""

from __future__ import annotations

from prometheus_client import Counter

AUTH_FAILURES = Counter(
    "shopmesh_gateway_auth_failures",
    "Requests refused for their credentials, by reason",
    ["service", "reason"],
)
RATE_LIMITED = Counter(
    "shopmesh_gateway_rate_limited",
    "Requests refused with 429, by route and the scope whose limit was exceeded",
    ["service", "route", "scope"],
)
RATE_LIMIT_ERRORS = Counter(
    "shopmesh_gateway_rate_limit_errors",
    "Requests the rate limiter could not count (Redis failed), by what was done",
    ["service", "action"],
)
JWKS_FETCHES = Counter(
    "shopmesh_gateway_jwks_fetches",
    "Fetches of the users service's JWKS, by outcome",
    ["service", "outcome"],
)
