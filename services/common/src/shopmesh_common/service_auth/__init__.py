"""Service-to-service identity outside the mesh: short-lived, signed service tokens.

In a cluster, Istio's STRICT mTLS gives every pod a SPIFFE identity and the operator's
AuthorizationPolicy (`spec.mesh.allowedCallers`) admits only the listed callers. On the local
stack there is no mesh: every service listens on 127.0.0.1 and anything on the host can reach
it. So internal endpoints accept only a signed token whose audience is the called service;
the defence is never "nobody can reach it".

Who uses it: `app.create_app` calls `install_service_auth(app, service)`, after which every
route but /health/live, /health/ready and /metrics needs `Authorization: Bearer <token>`;
`resilience.ClientFactory` attaches a token (a `TokenSource`) to every outgoing call with the
downstream's name as audience; people and tests mint one with
`python -m shopmesh_common.service_auth --caller admin --audience inventory`.
`tokens` holds settings, minting and verification; `middleware` the ASGI enforcement.

Signing: HS256 with one shared secret, SHOPMESH_SERVICE_TOKEN_SECRET (at least 32 bytes,
RFC 7518 section 3.2); unset, nothing is minted or required. A key pair per service
(Ed25519 or ES256) would prove the caller's name, but needs keys distributed and rotated,
which is what the mesh's CA does in a cluster. With one secret, whoever holds it can mint a
token for any name: the token proves "a process given the shop's secret", and the caller
name is asserted, not proven. That is acceptable locally, where every service runs from one
checkout as one user and the secret file (mode 600) is as protected as the code: it still
shuts out every process that lacks the secret (a browser, a stray script, a port scan), and
pins each token to one audience (a token for payments is useless at inventory) and to about
a minute. In a cluster leave the secret unset: mTLS identities cannot be forged by a peer.

Header: the standard `Authorization: Bearer` (RFC 6750) rather than a custom header, because
logging and tracing tools redact Authorization by default and every client knows it. It is
free: the gateway verifies end-user JWTs itself and forwards them to nobody (orders gets the
user as X-User-Id, which it may trust because only the gateway is allowed to call it).

Claims: iss = sub = the caller, aud = the called service (one string), iat, exp (60 s by
default; a token living longer than 300 s is refused whatever its exp says), jti (for logs:
there is no replay cache, which would need state shared by replicas; the expiry bounds
replay). The caller reuses its token per audience until half its life is gone, so a token
still has >= 30 s left through a call's retries. The receiver keeps tokens it verified until
they expire: PyJWT's HS256 check costs about 36 us here, a dict hit about 1 us.
"""

from __future__ import annotations

from .middleware import EXEMPT_PATHS, ServiceAuthMiddleware, install_service_auth
from .tokens import (
    ALGORITHM,
    MAX_LIFETIME_SECONDS,
    Caller,
    HS256TokenSource,
    ServiceAuthSettings,
    ServiceTokenVerifier,
    TokenRejected,
    TokenSource,
    mint_token,
    token_source_from_env,
)

__all__ = [
    "ALGORITHM",
    "EXEMPT_PATHS",
    "MAX_LIFETIME_SECONDS",
    "Caller",
    "HS256TokenSource",
    "ServiceAuthMiddleware",
    "ServiceAuthSettings",
    "ServiceTokenVerifier",
    "TokenRejected",
    "TokenSource",
    "install_service_auth",
    "mint_token",
    "token_source_from_env",
]
