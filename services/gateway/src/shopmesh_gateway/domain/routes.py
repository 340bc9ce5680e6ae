"""The gateway's route table: every public route, where it goes and what it requires.

A route's `name` is stable and is used three ways: as the `route` label of the gateway's
metrics, as the key of its rate-limit policy (settings `rate_limits`) and as the scope an
API key must hold to call it. `timeout_seconds` bounds one attempt upstream (the
resilient client retries only idempotent requests: safe methods, or a POST carrying an
Idempotency-Key, which the orders service deduplicates on).

Used by api.routes (to mount them), service_layer.api_keys (valid scopes) and the tests.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

from pydantic import BaseModel

from .schemas import CreateOrderIn, LoginIn, SignupIn


class Access(enum.Enum):
    PUBLIC = "public"  # anyone; limited per IP only; credentials, if sent, are ignored
    AUTHENTICATED = "authenticated"  # a user's JWT, or an API key holding the route's scope


@dataclass(frozen=True, kw_only=True, slots=True)
class RouteSpec:
    """One public route."""

    name: str
    method: str
    path: str
    upstream: str
    upstream_path: str  # may use the path's {parameters}
    access: Access
    timeout_seconds: float
    body: type[BaseModel] | None = None  # JSON body checked before forwarding
    idempotency_key: bool = False  # Idempotency-Key required and passed on
    no_store: bool = False  # answers carry Cache-Control: no-store (tokens, accounts)
    api_keys: bool = True  # an API key holding the route's scope may call it


SIGNUP = RouteSpec(
    name="auth.signup",
    method="POST",
    path="/api/auth/signup",
    upstream="users",
    upstream_path="/signup",
    access=Access.PUBLIC,
    timeout_seconds=5.0,  # an argon2 hash under load
    body=SignupIn,
    no_store=True,
)
LOGIN = RouteSpec(
    name="auth.login",
    method="POST",
    path="/api/auth/login",
    upstream="users",
    upstream_path="/login",
    access=Access.PUBLIC,
    timeout_seconds=5.0,
    body=LoginIn,
    no_store=True,
)
JWKS = RouteSpec(
    name="jwks",
    method="GET",
    path="/.well-known/jwks.json",
    upstream="users",
    upstream_path="/.well-known/jwks.json",
    access=Access.PUBLIC,
    timeout_seconds=1.0,
)
PRODUCTS = RouteSpec(
    name="products.list",
    method="GET",
    path="/api/products",
    upstream="inventory",
    upstream_path="/products",
    access=Access.PUBLIC,
    timeout_seconds=1.0,
)
CREATE_ORDER = RouteSpec(
    name="orders.create",
    method="POST",
    path="/api/orders",
    upstream="orders",
    upstream_path="/orders",
    access=Access.AUTHENTICATED,
    timeout_seconds=3.0,
    body=CreateOrderIn,
    idempotency_key=True,
)
READ_ORDER = RouteSpec(
    name="orders.read",
    method="GET",
    path="/api/orders/{order_id}",
    upstream="orders",
    upstream_path="/orders/{order_id}",
    access=Access.AUTHENTICATED,
    timeout_seconds=1.0,
)
USER_ORDERS = RouteSpec(
    name="users.orders",
    method="GET",
    path="/api/users/{user_id}/orders",
    upstream="order-history",  # and users: composed (service_layer.composition)
    upstream_path="/users/{user_id}/orders",
    access=Access.AUTHENTICATED,
    timeout_seconds=1.0,
    api_keys=False,  # a user's own page: a machine client is nobody's user
)

ROUTES: tuple[RouteSpec, ...] = (
    SIGNUP,
    LOGIN,
    JWKS,
    PRODUCTS,
    CREATE_ORDER,
    READ_ORDER,
    USER_ORDERS,
)
BY_NAME = {route.name: route for route in ROUTES}
# What an API key may be scoped to: the routes that need credentials at all.
API_KEY_SCOPES = frozenset(
    r.name for r in ROUTES if r.access is Access.AUTHENTICATED and r.api_keys
)

# Path parameters go into upstream paths: only plain identifiers, never '..', '/' or '%'.
_PARAMETER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def is_safe_parameter(value: str) -> bool:
    """True when `value` may be put into an upstream path as one segment."""
    return _PARAMETER.match(value) is not None and ".." not in value


def with_timeouts(overrides: dict[str, float]) -> dict[str, float]:
    """Every route's per-attempt timeout, the settings' overrides over the table's."""
    return {r.name: overrides.get(r.name, r.timeout_seconds) for r in ROUTES}
