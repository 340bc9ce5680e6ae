"""Signing key rotation and the first key, against a real PostgreSQL.

Each test gets its own database: the key ring is the state under test.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import jwt
import pytest
import pytest_asyncio

from shopmesh_common.db import Database
from shopmesh_common.testing import app_client, fresh_database
from shopmesh_users.domain.tokens import TokenPolicy, UnknownKeyError, verify_access_token
from shopmesh_users.main import create_app
from shopmesh_users.service_layer.keyring import KeyRing

pytestmark = pytest.mark.integration

POLICY = TokenPolicy(issuer="https://shopmesh.local/users", audience="shopmesh", ttl_seconds=900)
OVERLAP_SECONDS = 1.5


@pytest_asyncio.fixture
async def db_url() -> AsyncIterator[str]:
    async with fresh_database("shopmesh_users", prefix="users") as url:
        yield url


async def _token(client: httpx.AsyncClient, email: str) -> str:
    response = await client.post("/login", json={"email": email, "password": "correct horse"})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


async def _signed_up(client: httpx.AsyncClient) -> str:
    email = f"rot.{uuid.uuid4().hex[:8]}@example.com"
    response = await client.post(
        "/signup", json={"email": email, "password": "correct horse", "name": "Rot"}
    )
    assert response.status_code == 201, response.text
    return email


async def _jwks(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    keys: list[dict[str, Any]] = response.json()["keys"]
    return keys


def _kid(token: str) -> str:
    kid: str = jwt.get_unverified_header(token)["kid"]
    return kid


async def test_old_tokens_verify_through_the_overlap_then_the_old_key_is_gone(
    db_url: str, make_settings: Any
) -> None:
    settings = make_settings(db_url, key_overlap_seconds=OVERLAP_SECONDS)
    async with app_client(create_app(settings)) as raw:
        client = cast(httpx.AsyncClient, raw)
        email = await _signed_up(client)
        old_token = await _token(client, email)
        old_kid = _kid(old_token)
        assert [k["kid"] for k in await _jwks(client)] == [old_kid]

        rotated = await client.post("/admin/keys/rotate")
        assert rotated.status_code == 201
        new_kid = rotated.json()["kid"]
        assert new_kid != old_kid
        assert [r["kid"] for r in rotated.json()["retiring"]] == [old_kid]

        during = await _jwks(client)
        assert {k["kid"] for k in during} == {old_kid, new_kid}
        assert verify_access_token(old_token, POLICY, jwks=during)["sub"]
        new_token = await _token(client, email)
        assert _kid(new_token) == new_kid
        assert verify_access_token(new_token, POLICY, jwks=during)["sub"]

        await asyncio.sleep(OVERLAP_SECONDS + 0.2)
        after = await _jwks(client)
        assert [k["kid"] for k in after] == [new_kid]
        with pytest.raises(UnknownKeyError):
            verify_access_token(old_token, POLICY, jwks=after)
        assert verify_access_token(new_token, POLICY, jwks=after)["sub"]


async def test_a_rotation_after_the_overlap_destroys_the_retired_private_key(
    db_url: str, make_settings: Any, sql: Any
) -> None:
    settings = make_settings(db_url, key_overlap_seconds=0.1)
    async with app_client(create_app(settings)) as raw:
        client = cast(httpx.AsyncClient, raw)
        first = (await _jwks(client))[0]["kid"]
        assert (await client.post("/admin/keys/rotate")).status_code == 201
        await asyncio.sleep(0.2)
        assert (await client.post("/admin/keys/rotate")).status_code == 201

    query = "SELECT retired AND private_pem IS NULL FROM signing_keys WHERE kid = $1"
    assert await sql(db_url, query, first) is True
    assert await sql(db_url, "SELECT count(*) FROM signing_keys WHERE NOT retired") == 2


async def test_another_replica_switches_to_the_new_key_after_its_reload_interval(
    db_url: str, make_settings: Any
) -> None:
    settings = make_settings(db_url, key_reload_seconds=0.5)
    async with app_client(create_app(settings)) as raw_a, app_client(create_app(settings)) as raw_b:
        a, b = cast(httpx.AsyncClient, raw_a), cast(httpx.AsyncClient, raw_b)
        email = await _signed_up(a)
        old_kid = _kid(await _token(b, email))

        new_kid = (await a.post("/admin/keys/rotate")).json()["kid"]
        # b signs with its cached key until it reloads; that key is still published.
        assert _kid(await _token(b, email)) == old_kid
        await asyncio.sleep(0.6)
        assert _kid(await _token(b, email)) == new_kid
        assert {k["kid"] for k in await _jwks(b)} == {old_kid, new_kid}


async def test_two_replicas_starting_together_create_one_key(
    db_url: str, make_settings: Any, sql: Any
) -> None:
    settings = make_settings(db_url)

    async def start_and_read_jwks() -> list[str]:
        async with app_client(create_app(settings)) as raw:
            return [k["kid"] for k in await _jwks(cast(httpx.AsyncClient, raw))]

    first, second = await asyncio.gather(start_and_read_jwks(), start_and_read_jwks())

    assert await sql(db_url, "SELECT count(*) FROM signing_keys") == 1
    assert first == second
    assert len(first) == 1


async def test_many_concurrent_first_key_attempts_create_exactly_one(db_url: str, sql: Any) -> None:
    databases = [Database(db_url, min_size=1, max_size=1) for _ in range(8)]
    await asyncio.gather(*(db.connect() for db in databases))
    try:
        rings = [KeyRing(db, overlap_seconds=960, reload_seconds=5) for db in databases]
        created = await asyncio.gather(*(ring.ensure_signing_key() for ring in rings))
        kids = {(await ring.signing_key()).kid for ring in rings}
    finally:
        await asyncio.gather(*(db.close() for db in databases))

    assert created.count(True) == 1
    assert len(kids) == 1
    assert await sql(db_url, "SELECT count(*) FROM signing_keys") == 1
