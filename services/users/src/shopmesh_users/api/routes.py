"""The users routes: sign-up, login, the JWKS, key rotation and user lookup.

`POST /admin/keys/rotate` has no authentication of its own, like the other services'
/admin routes: it is meant for operators inside the cluster and is not exposed by the
ingress.
"""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from .deps import AccountsDep, KeyRingDep
from .schemas import (
    JwksOut,
    LoginRequest,
    RetiringKeyOut,
    RotationOut,
    SignupRequest,
    TokenOut,
    UserOut,
)

router = APIRouter(tags=["users"])

# Verifiers may cache the JWKS this long; after a rotation they meet the new kid and
# refetch, and the old key stays published far longer than this (the overlap).
JWKS_MAX_AGE_SECONDS = 60


@router.post("/signup", status_code=status.HTTP_201_CREATED)
async def sign_up(body: SignupRequest, accounts: AccountsDep) -> UserOut:
    """Create an account."""
    user = await accounts.sign_up(email=body.email, password=body.password, name=body.name)
    return UserOut(id=user.id, email=user.email, name=user.name)


@router.post("/login")
async def log_in(body: LoginRequest, accounts: AccountsDep, response: Response) -> TokenOut:
    """Exchange email and password for a short-lived access token."""
    issued = await accounts.log_in(email=body.email, password=body.password)
    response.headers["Cache-Control"] = "no-store"  # RFC 6749: token responses are not cached
    return TokenOut(access_token=issued.access_token, expires_in=issued.expires_in)


@router.get("/.well-known/jwks.json")
async def jwks(keyring: KeyRingDep, response: Response) -> JwksOut:
    """The public keys that verify access tokens: the signing key and those in their overlap."""
    response.headers["Cache-Control"] = f"public, max-age={JWKS_MAX_AGE_SECONDS}"
    return JwksOut(keys=await keyring.jwks())


@router.post("/admin/keys/rotate", status_code=status.HTTP_201_CREATED, tags=["admin"])
async def rotate_keys(keyring: KeyRingDep) -> RotationOut:
    """Create a new signing key; the previous one stays published for the overlap."""
    rotation = await keyring.rotate()
    return RotationOut(
        kid=rotation.kid,
        active_from=rotation.active_from,
        retiring=[RetiringKeyOut(kid=kid, retire_at=at) for kid, at in rotation.retiring],
    )


@router.get("/users/{user_id}")
async def get_user(user_id: uuid.UUID, accounts: AccountsDep) -> UserOut:
    """A user's public profile."""
    user = await accounts.get_user(user_id)
    return UserOut(id=user.id, email=user.email, name=user.name)
