"""The argon2 password hasher: verification outcomes, including the unknown-user dummy."""

from __future__ import annotations

import pytest

from shopmesh_users.adapters.passwords import Passwords


def _passwords() -> Passwords:
    return Passwords(time_cost=1, memory_cost_kib=8, parallelism=1, concurrency=2)


async def test_hash_is_argon2id_and_salted() -> None:
    passwords = _passwords()
    first, second = await passwords.hash("correct horse"), await passwords.hash("correct horse")
    assert first.startswith("$argon2id$")
    assert first != second


@pytest.mark.parametrize(
    ("stored", "given", "expected"),
    [
        pytest.param("correct horse", "correct horse", True, id="right-password"),
        pytest.param("correct horse", "Correct horse", False, id="wrong-password"),
        pytest.param(None, "correct horse", False, id="unknown-user-uses-dummy"),
        pytest.param("garbage", "garbage", False, id="not-an-argon2-hash"),
    ],
)
async def test_verify(stored: str | None, given: str, expected: bool) -> None:
    passwords = _passwords()
    if stored is None or stored == "garbage":
        password_hash = None if stored is None else stored
    else:
        password_hash = await passwords.hash(stored)
    assert await passwords.verify(password_hash, given) is expected
