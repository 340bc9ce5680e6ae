"""Who is calling: a user's bearer token or a machine client's API key, or a 401.

For a route that needs credentials, `authenticate` looks at `Authorization: Bearer <jwt>`
or `X-API-Key: <key>` (both at once is refused: one request, one principal):

- a token is answered from the verified-token cache when it can be; otherwise its
  header is checked (domain.tokens.read_header), its kid looked up in the JWKS cache
  (one throttled refetch when unknown) and its signature and claims verified;
- a key is looked up by its digest (service_layer.api_keys) and must hold the route's
  scope (403 otherwise: it is known, just not allowed).

Every refusal is a 401 problem+json with a `WWW-Authenticate: Bearer` challenge (RFC 6750
error codes) and is counted in shopmesh_gateway_auth_failures_total{reason}. Nothing a
client sends can turn into a 500: any unexpected error while verifying is a 401 too
(and logged). If no JWKS could ever be loaded, tokens get a 503 (adapters.jwks).
Used by api.pipeline.
"""

from __future__ import annotations

import logging
from typing import Protocol

from starlette.datastructures import Headers

from shopmesh_common.problems import Problem

from ..adapters.jwks import JwksCache, KeysUnavailable
from ..adapters.token_cache import TokenCache
from ..domain.identity import Identity
from ..domain.routes import RouteSpec
from ..domain.tokens import TokenPolicy, TokenRejected, read_header, verify_claims
from ..metrics import AUTH_FAILURES

log = logging.getLogger(__name__)


class KeyIdentifier(Protocol):
    """What authentication needs of service_layer.api_keys.ApiKeys."""

    async def identify(self, secret: str) -> Identity | None: ...


def challenge(error: str | None = None, description: str | None = None) -> str:
    """A WWW-Authenticate value (RFC 6750 section 3); quotes never appear in `description`."""
    value = 'Bearer realm="shopmesh"'
    if error:
        value += f', error="{error}"'
    if description:
        value += f', error_description="{description.replace(chr(34), chr(39))}"'
    return value


class Authenticator:
    def __init__(
        self,
        *,
        policy: TokenPolicy,
        jwks: JwksCache,
        tokens: TokenCache,
        api_keys: KeyIdentifier,
        service: str,
    ) -> None:
        self._policy = policy
        self._jwks = jwks
        self._tokens = tokens
        self._api_keys = api_keys
        self._service = service

    async def authenticate(self, headers: Headers, route: RouteSpec) -> Identity:
        """The caller of `route`; raises a 401 / 403 / 503 Problem."""
        authorization = headers.get("authorization")
        api_key = headers.get("x-api-key")
        if authorization is not None and api_key is not None:
            raise self._refuse("ambiguous", "send a bearer token or an API key, not both")
        if api_key is not None:
            return await self._by_api_key(api_key, route)
        if authorization is None:
            self._count("missing")
            raise Problem(
                401,
                "this route needs a bearer access token (or an API key)",
                type_="unauthenticated",
                headers={"WWW-Authenticate": challenge()},
            )
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise self._refuse("malformed", "the Authorization header must be 'Bearer <token>'")
        identity = self._tokens.get(token)
        if identity is not None:
            # Keeps the JWKS fresh even when every request is a cache hit, so that a key
            # rotated out at users drops its cached tokens (TokenCache.forget_all_but).
            self._jwks.refresh_if_old()
            return identity
        return await self.verify(token)

    async def verify(self, token: str) -> Identity:
        """Verify `token` from scratch (and remember it when valid)."""
        try:
            header = read_header(token, self._policy)
            try:
                key = await self._jwks.key(header.kid)
            except KeysUnavailable:
                self._count("keys_unavailable")
                raise Problem(
                    503,
                    "access tokens cannot be verified right now (no signing keys)",
                    type_="keys-unavailable",
                    headers={"Retry-After": "1"},
                ) from None
            if key is None:
                raise TokenRejected("unknown_kid", "the token was signed by an unknown key")
            identity, exp = verify_claims(token, key, header, self._policy)
        except TokenRejected as rejected:
            raise self._refuse(rejected.reason, rejected.detail) from None
        except Problem:
            raise
        except Exception:
            log.warning("unexpected error while verifying a token", exc_info=True)
            raise self._refuse("malformed", "the token cannot be verified") from None
        self._tokens.put(token, identity, exp=exp, kid=header.kid)
        return identity

    async def _by_api_key(self, secret: str, route: RouteSpec) -> Identity:
        identity = await self._api_keys.identify(secret.strip())
        if identity is None:
            raise self._refuse("api_key", "the API key is unknown or revoked")
        if not route.api_keys or not identity.may_call(route.name):
            self._count("scope")
            raise Problem(
                403,
                f"the API key may not call {route.name}",
                type_="insufficient-scope",
                headers={"WWW-Authenticate": challenge("insufficient_scope")},
            )
        return identity

    def _refuse(self, reason: str, detail: str) -> Problem:
        self._count(reason)
        return Problem(
            401,
            detail,
            type_="unauthenticated",
            headers={"WWW-Authenticate": challenge("invalid_token", detail)},
        )

    def _count(self, reason: str) -> None:
        AUTH_FAILURES.labels(self._service, reason).inc()
