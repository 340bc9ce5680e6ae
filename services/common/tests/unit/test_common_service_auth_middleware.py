"""The service-token middleware on a tiny app built by `create_app`: exempt paths, refusals
as problem+json (401 / 403, never 500), the verified caller in `request.state.caller`, and no
middleware at all (with a warning) when no secret is configured."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable

import httpx
import jwt
import pytest
from fastapi import APIRouter, FastAPI, Request
from prometheus_client import REGISTRY

from shopmesh_common.app import create_app, no_lifespan
from shopmesh_common.problems import PROBLEM_JSON
from shopmesh_common.service_auth import mint_token

SECRET = "m" * 32
SERVICE = "auth-tests"


def make_app() -> FastAPI:
    router = APIRouter()

    @router.post("/reservations")
    async def reserve(request: Request) -> dict[str, str | None]:
        caller = getattr(request.state, "caller", None)
        return {"caller": None if caller is None else caller.name}

    return create_app(service=SERVICE, lifespan=no_lifespan, routers=[router])


@pytest.fixture
def configure(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    monkeypatch.setenv("SHOPMESH_SERVICE_TOKEN_SECRET", SECRET)
    monkeypatch.setenv("SHOPMESH_ALLOWED_CALLERS", "orders,admin")
    monkeypatch.delenv("SHOPMESH_REQUIRE_SERVICE_TOKEN", raising=False)
    return monkeypatch


@pytest.fixture
async def client(configure: pytest.MonkeyPatch) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


def bearer(
    caller: str = "orders", audience: str = SERVICE, secret: str = SECRET, now: float | None = None
) -> dict[str, str]:
    token = mint_token(
        secret=secret.encode(),
        caller=caller,
        audience=audience,
        ttl_seconds=60,
        now=time.time() if now is None else now,
    )
    return {"Authorization": f"Bearer {token}"}


def rejected(reason: str) -> float:
    labels = {"service": SERVICE, "reason": reason}
    return REGISTRY.get_sample_value("shopmesh_service_auth_rejected_total", labels) or 0.0


@pytest.mark.parametrize("path", ["/health/live", "/metrics"])
async def test_health_and_metrics_need_no_token(client: httpx.AsyncClient, path: str) -> None:
    answer = await client.get(path)

    assert answer.status_code == 200


async def test_readiness_needs_no_token(client: httpx.AsyncClient) -> None:
    answer = await client.get("/health/ready")

    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        pytest.param(dict, 401, "missing", id="no-header"),
        pytest.param(lambda: {"Authorization": "Basic b3JkZXJzOng="}, 401, "missing", id="basic"),
        pytest.param(lambda: {"Authorization": "Bearer "}, 401, "missing", id="bearer-nothing"),
        pytest.param(lambda: {"Authorization": "Bearer x.y.z"}, 401, "invalid", id="garbage"),
        pytest.param(lambda: bearer(audience="payments"), 401, "audience", id="wrong-audience"),
        pytest.param(lambda: bearer(secret="w" * 32), 401, "signature", id="other-secret"),
        pytest.param(lambda: bearer(now=0), 401, "expired", id="expired"),
        pytest.param(
            lambda: bearer(caller="notifications"), 403, "caller", id="caller-not-allowed"
        ),
    ],
)
async def test_refusals_are_problem_json(
    client: httpx.AsyncClient, headers: Callable[[], dict[str, str]], status: int, reason: str
) -> None:
    before = rejected(reason)

    answer = await client.post("/reservations", headers=headers())

    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == PROBLEM_JSON
    body = answer.json()
    assert body["status"] == status
    assert body["reason"] == reason
    assert body["instance"] == "/reservations"
    expected_type = (
        "urn:shopmesh:unauthenticated" if status == 401 else "urn:shopmesh:caller-not-allowed"
    )
    assert body["type"] == expected_type
    if status == 401:
        assert answer.headers["www-authenticate"].startswith(f'Bearer realm="{SERVICE}"')
    assert rejected(reason) == before + 1


@pytest.mark.parametrize("caller", ["orders", "admin"])
async def test_an_allowed_caller_gets_through_and_is_known_to_the_route(
    client: httpx.AsyncClient, caller: str
) -> None:
    answer = await client.post("/reservations", headers=bearer(caller=caller))

    assert answer.status_code == 200, answer.text
    assert answer.json() == {"caller": caller}


async def test_an_unknown_route_is_refused_before_it_is_looked_up(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.get("/nothing-here")).status_code == 401
    assert (await client.get("/nothing-here", headers=bearer())).status_code == 404


async def test_a_token_pyjwt_chokes_on_is_a_401_not_a_500(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("a bug in the JWT library")

    monkeypatch.setattr(jwt, "decode", explode)

    answer = await client.post("/reservations", headers=bearer())

    assert answer.status_code == 401
    assert answer.headers["content-type"] == PROBLEM_JSON


@pytest.mark.parametrize(
    ("env", "guarded"),
    [
        pytest.param({}, False, id="no-secret"),
        pytest.param({"SHOPMESH_SERVICE_TOKEN_SECRET": ""}, False, id="empty-secret"),
        pytest.param({"SHOPMESH_SERVICE_TOKEN_SECRET": SECRET}, True, id="secret"),
        pytest.param(
            {"SHOPMESH_SERVICE_TOKEN_SECRET": SECRET, "SHOPMESH_REQUIRE_SERVICE_TOKEN": "false"},
            False,
            id="edge-service",
        ),
    ],
)
async def test_the_middleware_is_installed_only_with_a_secret(
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    env: dict[str, str],
    guarded: bool,
) -> None:
    for name in ("SHOPMESH_SERVICE_TOKEN_SECRET", "SHOPMESH_REQUIRE_SERVICE_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    with caplog.at_level(logging.WARNING, logger="shopmesh_common.service_auth"):
        app = make_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.post("/reservations")

    assert (answer.status_code == 401) is guarded
    warned = any("unauthenticated" in r.message or "public" in r.message for r in caplog.records)
    assert warned is not guarded
