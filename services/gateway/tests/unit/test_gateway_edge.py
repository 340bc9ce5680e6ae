"""The edge: security headers on every answer, request ids, CORS allow-list, no-store on
auth answers, the admin token, API-key scopes and the failure metrics."""

from __future__ import annotations

import pytest
from gateway_testkit import MakeGateway
from prometheus_client import REGISTRY

from shopmesh_gateway.domain.api_keys import digest_of, generate_key, looks_like_key
from shopmesh_gateway.domain.identity import Identity
from shopmesh_gateway.domain.routes import API_KEY_SCOPES, ROUTES, is_safe_parameter
from shopmesh_gateway.service_layer.forwarding import (
    FORWARDED_REQUEST_HEADERS,
    is_identity_header,
    upstream_headers,
)

SECURITY = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/products", 200),
        ("GET", "/api/orders/4f9b7a3e-1a6c-4d8e-9b0a-2f6e1c3d5a7b", 401),
        ("GET", "/api/nowhere", 404),
        ("DELETE", "/api/products", 405),
        ("GET", "/health/live", 200),
    ],
)
async def test_every_answer_has_the_security_headers(
    make_gateway: MakeGateway, method: str, path: str, status: int
) -> None:
    async with make_gateway() as h:
        answer = await h.client.request(method, path)
        assert answer.status_code == status
        for name, value in SECURITY.items():
            assert answer.headers[name] == value
        assert answer.headers["strict-transport-security"].startswith("max-age=")
        assert answer.headers["x-request-id"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        pytest.param("abc-123.x:y_z", True, id="plain"),
        pytest.param("a" * 129, False, id="too-long"),
        pytest.param("evil\tvalue", False, id="control-character"),
        pytest.param("a b", False, id="space"),
    ],
)
async def test_request_ids_are_kept_only_when_plain(
    make_gateway: MakeGateway, sent: str, kept: bool
) -> None:
    async with make_gateway() as h:
        answer = await h.client.get("/api/products", headers={"X-Request-ID": sent})
        assert (answer.headers["x-request-id"] == sent) is kept
        assert h.upstream.requests[0].headers["x-request-id"] == answer.headers["x-request-id"]


async def test_request_ids_are_generated_per_request(make_gateway: MakeGateway) -> None:
    async with make_gateway() as h:
        ids = {(await h.client.get("/api/products")).headers["x-request-id"] for _ in range(3)}
        assert len(ids) == 3


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [("https://shop.example", True), ("https://evil.example", False)],
)
async def test_cors_follows_the_allow_list(
    make_gateway: MakeGateway, origin: str, allowed: bool
) -> None:
    async with make_gateway(cors_origins=["https://shop.example"]) as h:
        preflight = await h.client.options(
            "/api/orders",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
            },
        )
        assert (preflight.headers.get("access-control-allow-origin") == origin) is allowed
        simple = await h.client.get("/api/products", headers={"Origin": origin})
        assert (simple.headers.get("access-control-allow-origin") == origin) is allowed
        if allowed:
            assert "ratelimit-remaining" in simple.headers["access-control-expose-headers"].lower()


async def test_auth_answers_are_not_stored(make_gateway: MakeGateway) -> None:
    async with make_gateway() as h:
        h.upstream.answers[("POST", "/login")] = (200, {"access_token": "t", "expires_in": 900})
        answer = await h.client.post("/api/auth/login", json={"email": "a@b.c", "password": "pw"})
        assert answer.status_code == 200
        assert answer.headers["cache-control"] == "no-store"
        products = await h.client.get("/api/products")
        assert "no-store" not in products.headers.get("cache-control", "")


@pytest.mark.parametrize(
    ("configured", "sent", "status"),
    [
        pytest.param(None, "Bearer anything", 403, id="admin-api-off"),
        pytest.param("s3cret-admin-token", None, 401, id="no-token"),
        pytest.param("s3cret-admin-token", "Bearer wrong", 401, id="wrong-token"),
        pytest.param("s3cret-admin-token", "Basic s3cret-admin-token", 401, id="wrong-scheme"),
    ],
)
async def test_admin_routes_need_the_admin_token(
    make_gateway: MakeGateway, configured: str | None, sent: str | None, status: int
) -> None:
    async with make_gateway(gateway_admin_token=configured) as h:
        headers = {} if sent is None else {"Authorization": sent}
        for method, path in [
            ("GET", "/admin/api-keys"),
            ("POST", "/admin/api-keys"),
            ("DELETE", "/admin/api-keys/4f9b7a3e-1a6c-4d8e-9b0a-2f6e1c3d5a7b"),
        ]:
            answer = await h.client.request(method, path, headers=headers)
            assert answer.status_code == status
            assert answer.headers["content-type"] == "application/problem+json"


KEY = Identity(subject="key:k1", api_key_id="k1", scopes=frozenset({"orders.read"}))


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/api/orders/4f9b7a3e-1a6c-4d8e-9b0a-2f6e1c3d5a7b", 404, id="in-scope"),
        pytest.param("POST", "/api/orders", 403, id="out-of-scope"),
        pytest.param("GET", "/api/users/key:k1/orders", 403, id="no-api-keys-on-user-pages"),
    ],
)
async def test_api_keys_are_held_to_their_scopes(
    make_gateway: MakeGateway, method: str, path: str, status: int
) -> None:
    async with make_gateway() as h:
        h.api_keys.known["smk_good"] = KEY
        answer = await h.client.request(method, path, headers={"X-API-Key": "smk_good"})
        assert answer.status_code == status
        if status == 404:  # reached orders, as the key's own principal
            assert h.upstream.requests[0].headers["x-user-id"] == "key:k1"
            assert h.upstream.requests[0].headers["x-api-key-id"] == "k1"
        else:
            assert h.upstream.requests == []


def test_api_key_material() -> None:
    key = generate_key()
    assert looks_like_key(key.secret)
    assert key.digest == digest_of(key.secret)
    assert len(key.digest) == 32
    assert key.secret not in key.digest.hex()
    assert generate_key().secret != key.secret
    assert not looks_like_key(key.secret + "x")
    assert not looks_like_key("smk_" + "!" * 43)


def test_api_key_scopes_are_route_names_that_need_credentials() -> None:
    assert {"orders.create", "orders.read"} == API_KEY_SCOPES
    assert {route.name for route in ROUTES} >= API_KEY_SCOPES


@pytest.mark.parametrize(
    ("name", "identity"),
    [
        ("X-User-Id", True),
        ("x-user-email", True),
        ("X-Api-Key-Id", True),
        ("X-Forwarded-User", True),
        ("X-ShopMesh-Identity-Roles", True),
        ("X-Request-ID", False),
        ("Accept", False),
    ],
)
def test_identity_headers(name: str, identity: bool) -> None:
    assert is_identity_header(name) is identity


def test_upstream_headers_come_from_the_allow_list_and_the_identity() -> None:
    client = {
        "accept": "application/json",
        "x-user-id": "victim",
        "x-shopmesh-identity-role": "admin",
        "authorization": "Bearer token",
    }
    headers = upstream_headers(
        client, identity=Identity(subject="ada"), request_id="r1", idempotency_key="k-12345678"
    )
    assert headers == {
        "accept": "application/json",
        "x-request-id": "r1",
        "idempotency-key": "k-12345678",
        "x-user-id": "ada",
    }
    assert not any(map(is_identity_header, FORWARDED_REQUEST_HEADERS))


@pytest.mark.parametrize(
    ("value", "safe"),
    [("user-1", True), ("4f9b7a3e-1a6c", True), ("..", False), ("a/b", False), ("a%2f", False)],
)
def test_path_parameters(value: str, safe: bool) -> None:
    assert is_safe_parameter(value) is safe


async def test_auth_failures_are_counted_by_reason(make_gateway: MakeGateway) -> None:
    def expired_count() -> float:
        value = REGISTRY.get_sample_value(
            "shopmesh_gateway_auth_failures_total", {"service": "gateway", "reason": "expired"}
        )
        return value or 0.0

    async with make_gateway() as h:
        before = expired_count()
        token = h.keys.token(exp=1_000)
        await h.client.get("/api/users/user-1/orders", headers=h.auth(token))
        assert expired_count() == before + 1
