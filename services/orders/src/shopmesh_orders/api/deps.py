"""FastAPI dependencies of the order routes: the caller's identity and the app's parts."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Depends, Header, Request

from shopmesh_common.idempotency import parse_key
from shopmesh_common.problems import Problem

_USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def customer_id(x_user_id: Annotated[str | None, Header()] = None) -> str:
    """The caller, as the gateway passes it on after verifying the JWT (X-User-Id)."""
    if not x_user_id or not _USER_ID.match(x_user_id):
        raise Problem(
            401,
            "X-User-Id is missing or malformed: orders are placed through the gateway",
            type_="unauthenticated",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return x_user_id


def idempotency_key(idempotency_key: Annotated[str | None, Header()] = None) -> str:
    """The request's Idempotency-Key (400 when missing or malformed)."""
    return parse_key(idempotency_key)


def state(request: Request) -> object:
    """The app state (db, runner, keys) set by the lifespan."""
    return request.app.state


CustomerId = Annotated[str, Depends(customer_id)]
IdempotencyKey = Annotated[str, Depends(idempotency_key)]
