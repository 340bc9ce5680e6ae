"""Sign-up, login, the served JWKS and user lookup against a real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx
import jwt
import pytest
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from shopmesh_common.testing import app_client, fresh_database
from shopmesh_users.main import create_app

pytestmark = [pytest.mark.integration, pytest.mark.asyncio(loop_scope="module")]

PROBLEM = "application/problem+json"
COUNT_ROWS = "SELECT (SELECT count(*) FROM users) * 1000000 + (SELECT count(*) FROM outbox)"


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def db_url() -> AsyncIterator[str]:
    async with fresh_database("shopmesh_users", prefix="users") as url:
        yield url


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def client(db_url: str, make_settings: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(create_app(make_settings(db_url))) as raw:
        yield cast(httpx.AsyncClient, raw)


def _email() -> str:
    return f"ann.{uuid.uuid4().hex[:8]}@example.com"


async def _sign_up(client: httpx.AsyncClient, email: str, password: str = "correct horse") -> Any:
    response = await client.post(
        "/signup", json={"email": email, "password": password, "name": "  Ann Lee "}
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_signup_login_and_the_token_verifies_against_the_served_jwks(
    client: httpx.AsyncClient,
) -> None:
    email = _email()
    user = await _sign_up(client, email.upper())
    assert user == {"id": user["id"], "email": email, "name": "Ann Lee"}

    login = await client.post("/login", json={"email": email, "password": "correct horse"})
    assert login.status_code == 200, login.text
    body = login.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 900)
    assert login.headers["cache-control"] == "no-store"

    served = await client.get("/.well-known/jwks.json")
    assert served.status_code == 200
    assert "max-age=60" in served.headers["cache-control"]
    kid = jwt.get_unverified_header(body["access_token"])["kid"]
    jwk = next(k for k in served.json()["keys"] if k["kid"] == kid)
    assert "d" not in jwk
    claims = jwt.decode(
        body["access_token"],
        jwt.PyJWK(jwk).key,
        algorithms=["ES256"],
        audience="shopmesh",
        issuer="https://shopmesh.local/users",
    )
    assert claims["sub"] == user["id"]
    assert (claims["email"], claims["name"]) == (email, "Ann Lee")
    assert claims["exp"] - claims["iat"] == 900


async def test_signup_writes_the_user_and_its_event_together(
    client: httpx.AsyncClient, db_url: str, sql: Any
) -> None:
    email = _email()
    user = await _sign_up(client, email)
    stored = await sql(db_url, "SELECT email FROM users WHERE id = $1", uuid.UUID(user["id"]))
    payload = await sql(
        db_url,
        "SELECT payload::text FROM outbox WHERE event_type = 'user.registered'"
        " AND aggregate_id = $1",
        user["id"],
    )
    assert stored == email
    event = httpx.Response(200, content=payload).json()
    assert (event["aggregate_type"], event["sequence"]) == ("user", 1)
    assert event["data"] == {"user_id": user["id"], "email": email, "name": "Ann Lee"}


@pytest.mark.parametrize("spelling", [str.lower, str.upper], ids=["same-case", "other-case"])
async def test_duplicate_email_is_409_and_writes_nothing(
    client: httpx.AsyncClient, db_url: str, sql: Any, spelling: Any
) -> None:
    email = _email()
    await _sign_up(client, email)
    before = await sql(db_url, COUNT_ROWS)

    again = await client.post(
        "/signup", json={"email": spelling(email), "password": "another pass", "name": "Bob"}
    )

    assert again.status_code == 409
    assert again.headers["content-type"] == PROBLEM
    assert again.json()["type"] == "urn:shopmesh:email-taken"
    assert await sql(db_url, COUNT_ROWS) == before
    assert await sql(db_url, "SELECT name FROM users WHERE email = $1", email) == "Ann Lee"


GOOD = {"email": "valid@example.com", "password": "correct horse", "name": "Ann"}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        pytest.param("/signup", {**GOOD, "email": "nope"}, id="signup-bad-email"),
        pytest.param("/signup", {**GOOD, "password": "1234567"}, id="signup-short-password"),
        pytest.param("/signup", {**GOOD, "password": "p" * 129}, id="signup-long-password"),
        pytest.param("/signup", {**GOOD, "name": " \t "}, id="signup-blank-name"),
        pytest.param("/signup", {**GOOD, "name": "n" * 101}, id="signup-long-name"),
        pytest.param("/signup", {**GOOD, "role": "admin"}, id="signup-extra-field"),
        pytest.param("/signup", {"email": "valid@example.com"}, id="signup-missing-fields"),
        pytest.param("/signup", [GOOD], id="signup-array-body"),
        pytest.param("/signup", "not json", id="signup-not-json"),
        pytest.param("/login", {"email": "valid@example.com"}, id="login-missing-password"),
        pytest.param("/login", {**GOOD}, id="login-extra-field"),
    ],
)
async def test_bad_input_is_a_problem_and_writes_nothing(
    client: httpx.AsyncClient, db_url: str, sql: Any, path: str, body: Any
) -> None:
    before = await sql(db_url, COUNT_ROWS)
    if isinstance(body, str):
        response = await client.post(
            path, content=body, headers={"content-type": "application/json"}
        )
    else:
        response = await client.post(path, json=body)
    assert 400 <= response.status_code < 500
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == response.status_code
    assert await sql(db_url, COUNT_ROWS) == before


async def test_wrong_password_and_unknown_email_get_the_same_401(
    client: httpx.AsyncClient,
) -> None:
    email = _email()
    await _sign_up(client, email)

    wrong = await client.post("/login", json={"email": email, "password": "wrong horse"})
    unknown = await client.post("/login", json={"email": _email(), "password": "correct horse"})

    for response in (wrong, unknown):
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.headers["content-type"] == PROBLEM
    assert wrong.json()["detail"] == unknown.json()["detail"]
    assert wrong.json()["type"] == unknown.json()["type"] == "urn:shopmesh:invalid-credentials"


async def test_unknown_email_costs_as_much_argon2_work_as_a_wrong_password(
    db_url: str, make_settings: Any
) -> None:
    # A real argon2 cost (a few ms per verification): without the dummy verification, an
    # unknown email would answer in well under a tenth of that time.
    settings = make_settings(db_url, argon2_time_cost=2, argon2_memory_cost_kib=32_768)
    async with app_client(create_app(settings)) as raw:
        client = cast(httpx.AsyncClient, raw)
        email = _email()
        await _sign_up(client, email)

        async def timed(body: dict[str, str]) -> float:
            started = time.perf_counter()
            response = await client.post("/login", json=body)
            assert response.status_code == 401
            return time.perf_counter() - started

        wrong, unknown = [], []
        for _ in range(5):
            wrong.append(await timed({"email": email, "password": "wrong horse"}))
            unknown.append(await timed({"email": _email(), "password": "wrong horse"}))
    ratio = sorted(unknown)[2] / sorted(wrong)[2]
    assert 0.5 < ratio < 2.0, (wrong, unknown)


async def test_get_user(client: httpx.AsyncClient) -> None:
    email = _email()
    user = await _sign_up(client, email)

    found = await client.get(f"/users/{user['id']}")
    missing = await client.get(f"/users/{uuid.uuid4()}")
    malformed = await client.get("/users/not-a-uuid")

    assert found.status_code == 200
    assert found.json() == {"id": user["id"], "email": email, "name": "Ann Lee"}
    assert missing.status_code == 404
    assert missing.headers["content-type"] == PROBLEM
    assert malformed.status_code == 422


def _metric(text: str, name: str, labels: dict[str, str]) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


async def test_signups_and_logins_are_counted(client: httpx.AsyncClient) -> None:
    signups = {"service": "users"}
    ok, rejected = {**signups, "outcome": "ok"}, {**signups, "outcome": "rejected"}
    before = (await client.get("/metrics")).text

    email = _email()
    await _sign_up(client, email)
    await asyncio.gather(
        client.post("/login", json={"email": email, "password": "correct horse"}),
        client.post("/login", json={"email": email, "password": "wrong horse"}),
    )
    after = (await client.get("/metrics")).text

    def delta(name: str, labels: dict[str, str]) -> float:
        return _metric(after, name, labels) - _metric(before, name, labels)

    assert delta("shopmesh_users_signups_total", signups) == 1
    assert delta("shopmesh_users_logins_total", ok) == 1
    assert delta("shopmesh_users_logins_total", rejected) == 1
