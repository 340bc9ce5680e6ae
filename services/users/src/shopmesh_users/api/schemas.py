"""Request and response bodies of the users API (pydantic v2).

Every request model forbids unknown fields and bounds every string, so a rejected request
is a 422 problem before any work (or any argon2 hashing) is done.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

# Names are shown to people and put in tokens: no control characters (newlines, NUL, ...).
Name = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"
    ),
]
# Passwords are taken as typed (never stripped); the upper bound caps the hashing input.
NewPassword = Annotated[str, Field(min_length=8, max_length=128)]
Password = Annotated[str, Field(min_length=1, max_length=128)]


class SignupRequest(BaseModel):
    """POST /signup."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: NewPassword
    name: Name


class LoginRequest(BaseModel):
    """POST /login."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: Password


class UserOut(BaseModel):
    """A user as the API shows it."""

    id: uuid.UUID
    email: str
    name: str


class TokenOut(BaseModel):
    """A login's answer (RFC 6749 section 5.1 names)."""

    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int


class JwksOut(BaseModel):
    """The JSON Web Key Set (RFC 7517)."""

    keys: list[dict[str, Any]]


class RetiringKeyOut(BaseModel):
    """A replaced key, published until `retire_at`."""

    kid: str
    retire_at: datetime


class RotationOut(BaseModel):
    """POST /admin/keys/rotate's answer."""

    kid: str
    active_from: datetime
    retiring: list[RetiringKeyOut]
