"""Request schemas: what sign-up and login reject, and how they normalize what they accept."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from shopmesh_users.api.schemas import LoginRequest, SignupRequest

GOOD = {"email": "ann@example.com", "password": "correct horse", "name": "Ann"}


@pytest.mark.parametrize(
    ("model", "body", "field"),
    [
        pytest.param(SignupRequest, {**GOOD, "email": "not-an-email"}, "email", id="email-no-at"),
        pytest.param(SignupRequest, {**GOOD, "email": "ann@"}, "email", id="email-no-domain"),
        pytest.param(SignupRequest, {**GOOD, "email": "a@b.test"}, "email", id="email-special-tld"),
        pytest.param(SignupRequest, {**GOOD, "password": "short"}, "password", id="password-7"),
        pytest.param(SignupRequest, {**GOOD, "password": "x" * 129}, "password", id="password-129"),
        pytest.param(SignupRequest, {**GOOD, "name": ""}, "name", id="name-empty"),
        pytest.param(SignupRequest, {**GOOD, "name": "   "}, "name", id="name-blank"),
        pytest.param(SignupRequest, {**GOOD, "name": "x" * 101}, "name", id="name-101"),
        pytest.param(SignupRequest, {**GOOD, "name": "Ann\nBob"}, "name", id="name-newline"),
        pytest.param(SignupRequest, {**GOOD, "name": 7}, "name", id="name-not-string"),
        pytest.param(SignupRequest, {**GOOD, "admin": True}, "admin", id="extra-field"),
        pytest.param(SignupRequest, {"email": "ann@example.com"}, "password", id="missing"),
        pytest.param(
            LoginRequest,
            {"email": "ann@example.com", "password": ""},
            "password",
            id="login-empty-password",
        ),
        pytest.param(
            LoginRequest, {"email": "ann", "password": "x"}, "email", id="login-bad-email"
        ),
        pytest.param(LoginRequest, {**GOOD}, "name", id="login-extra-field"),
    ],
)
def test_rejected(model: type[BaseModel], body: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(body)
    assert field in {str(err["loc"][0]) for err in caught.value.errors()}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(GOOD, ("ann@example.com", "correct horse", "Ann"), id="as-is"),
        pytest.param(
            {**GOOD, "name": "  Ann  "},
            ("ann@example.com", "correct horse", "Ann"),
            id="name-stripped",
        ),
        pytest.param(
            {**GOOD, "password": "  spaced  "},
            ("ann@example.com", "  spaced  ", "Ann"),
            id="password-not-stripped",
        ),
        pytest.param(
            {**GOOD, "password": "x" * 128},
            ("ann@example.com", "x" * 128, "Ann"),
            id="password-128",
        ),
        pytest.param(
            {**GOOD, "name": "x" * 100},
            ("ann@example.com", "correct horse", "x" * 100),
            id="name-100",
        ),
    ],
)
def test_accepted(body: dict[str, Any], expected: tuple[str, str, str]) -> None:
    request = SignupRequest.model_validate(body)
    assert (request.email, request.password, request.name) == expected
