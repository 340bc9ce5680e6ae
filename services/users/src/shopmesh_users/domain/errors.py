"""The users service's expected failures, as problem+json errors.

Raised by the service layer and rendered by shopmesh_common's problem handlers; the type
slugs are part of the HTTP contract.
"""

from __future__ import annotations

from shopmesh_common.problems import Problem


class EmailTaken(Problem):
    """Sign-up with an address that already has an account."""

    def __init__(self) -> None:
        super().__init__(409, "an account with this email already exists", type_="email-taken")


class InvalidCredentials(Problem):
    """Login failed; the same detail for an unknown email and a wrong password."""

    def __init__(self) -> None:
        super().__init__(
            401,
            "invalid email or password",
            type_="invalid-credentials",
            headers={"WWW-Authenticate": "Bearer"},
        )


class UserNotFound(Problem):
    """No user with this id."""

    def __init__(self) -> None:
        super().__init__(404, "no such user", type_="user-not-found")


class NoSigningKey(Problem):
    """The key ring has no key that may sign now (never after a normal start-up)."""

    def __init__(self) -> None:
        super().__init__(503, "no signing key is available", type_="no-signing-key")
