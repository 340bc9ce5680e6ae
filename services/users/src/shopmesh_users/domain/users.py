"""The user model and the rule for comparing e-mail addresses.

Used by the service layer (sign-up, login) and the SQL adapter. Addresses are stored
lower-cased, so one unique index makes `Ann@Example.com` and `ann@example.com` the same
account (what a citext column would do, without the extension).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class User:
    """A registered user, as other services see it (never with the password hash)."""

    id: uuid.UUID
    email: str
    name: str


def normalize_email(email: str) -> str:
    """The form an address is stored and looked up in."""
    return email.strip().lower()
