"""FastAPI dependencies of the gateway's routes: the Gateway parts and the admin check."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request

from shopmesh_common.problems import Problem

from .pipeline import Gateway


def gateway(request: Request) -> Gateway:
    """The Gateway built by main's lifespan."""
    built: Gateway = request.app.state.gateway
    return built


def require_admin(request: Request) -> None:
    """The admin bearer token (SHOPMESH_GATEWAY_ADMIN_TOKEN), compared in constant time.

    Without a configured token the admin API is off (403), never open.
    """
    expected = request.app.state.settings.gateway_admin_token
    if expected is None or not expected.get_secret_value():
        raise Problem(
            403,
            "the admin API is off: set SHOPMESH_GATEWAY_ADMIN_TOKEN",
            type_="admin-disabled",
        )
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.get_secret_value().encode()
    ):
        raise Problem(
            401,
            "the admin API needs the admin bearer token",
            type_="unauthenticated",
            headers={"WWW-Authenticate": 'Bearer realm="shopmesh-admin"'},
        )


GatewayDep = Annotated[Gateway, Depends(gateway)]
AdminOnly = Depends(require_admin)
