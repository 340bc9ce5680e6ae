"""Validation before forwarding (413 / 415 / 422 / 400), through the app with a fake
upstream: every rejected request must reach no service. Plus what does get forwarded:
the canonical body, the verified identity and never the client's identity headers."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from gateway_testkit import Harness, MakeGateway

MAX = 4096
GOOD_ORDER = {"items": [{"product_id": "p1", "quantity": 2}]}
JSON = "application/json"


async def chunks(total: int) -> AsyncIterator[bytes]:
    """A chunked body (no Content-Length) of `total` bytes of valid-looking JSON."""
    yield b'{"items": [], "pad": "'
    sent = 22
    while sent < total:
        yield b"x" * 256
        sent += 256
    yield b'"}'


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


ROWS = [
    pytest.param({}, body(GOOD_ORDER), 415, id="no-content-type"),
    pytest.param({"Content-Type": "text/plain"}, body(GOOD_ORDER), 415, id="text-plain"),
    pytest.param({"Content-Type": "application/x-www-form-urlencoded"}, b"items=1", 415, id="form"),
    pytest.param({"Content-Type": "application/jsonx"}, body(GOOD_ORDER), 415, id="jsonx"),
    pytest.param({"Content-Type": JSON}, b"x" * (MAX + 1), 413, id="content-length-over"),
    pytest.param({"Content-Type": JSON}, chunks(MAX * 4), 413, id="chunked-over"),
    pytest.param({"Content-Type": JSON}, b"{not json", 422, id="malformed-json"),
    pytest.param({"Content-Type": JSON}, b"\xff\xfe", 422, id="not-utf8"),
    pytest.param({"Content-Type": JSON}, b"", 422, id="empty-body"),
    pytest.param({"Content-Type": JSON}, body([]), 422, id="array"),
    pytest.param({"Content-Type": JSON}, body({}), 422, id="no-items"),
    pytest.param({"Content-Type": JSON}, body({"items": []}), 422, id="empty-items"),
    pytest.param(
        {"Content-Type": JSON},
        body({"items": [{"product_id": "p1", "quantity": 0}]}),
        422,
        id="quantity-zero",
    ),
    pytest.param(
        {"Content-Type": JSON},
        body({"items": [{"product_id": "../admin", "quantity": 1}]}),
        422,
        id="product-id-path",
    ),
    pytest.param(
        {"Content-Type": JSON},
        body({"items": [{"product_id": "p1", "quantity": 1}] * 2}),
        422,
        id="duplicate-product",
    ),
    pytest.param(
        {"Content-Type": JSON},
        body({**GOOD_ORDER, "customer_id": "someone-else"}),
        422,
        id="extra-field",
    ),
    pytest.param(
        {"Content-Type": JSON},
        body({"items": [{"product_id": f"p{n}", "quantity": 1} for n in range(51)]}),
        422,
        id="too-many-items",
    ),
]


@pytest.mark.parametrize(("headers", "content", "status"), ROWS)
async def test_rejected_orders_reach_no_service(
    make_gateway: MakeGateway, headers: dict[str, str], content: Any, status: int
) -> None:
    async with make_gateway(max_body_bytes=MAX) as h:
        answer = await h.client.post(
            "/api/orders",
            content=content,
            headers=h.auth(**{"Idempotency-Key": "key-12345678", **headers}),
        )
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == status
        if status == 422:
            assert answer.json()["errors"]
        assert h.upstream.requests == []


@pytest.mark.parametrize(
    ("key", "status"),
    [
        pytest.param(None, 400, id="missing"),
        pytest.param("short", 400, id="too-short"),
        pytest.param("key with spaces!", 400, id="malformed"),
    ],
)
async def test_orders_need_an_idempotency_key(
    make_gateway: MakeGateway, key: str | None, status: int
) -> None:
    async with make_gateway() as h:
        headers = h.auth() if key is None else h.auth(**{"Idempotency-Key": key})
        answer = await h.client.post("/api/orders", json=GOOD_ORDER, headers=headers)
        assert answer.status_code == status
        assert h.upstream.requests == []


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        pytest.param("/api/auth/signup", {"email": "a@b.c", "password": "short", "name": "A"}),
        pytest.param(
            "/api/auth/signup", {"email": "no-at-sign", "password": "x" * 12, "name": "A"}
        ),
        pytest.param("/api/auth/signup", {"email": "a@b.c", "password": "x" * 129, "name": "A"}),
        pytest.param("/api/auth/login", {"email": "a@b.c"}),
        pytest.param("/api/auth/login", {"email": "a@b.c", "password": "", "admin": True}),
    ],
)
async def test_bad_auth_bodies_reach_no_service(
    make_gateway: MakeGateway, path: str, payload: dict[str, Any]
) -> None:
    async with make_gateway() as h:
        answer = await h.client.post(path, json=payload)
        assert answer.status_code == 422
        assert answer.headers["cache-control"] == "no-store"
        assert h.upstream.requests == []


async def place(h: Harness, **headers: str) -> Any:
    return await h.client.post(
        "/api/orders",
        content=b'{ "items" : [ {"quantity": 2, "product_id": "p1"} ] }',
        headers=h.auth(**{"Content-Type": JSON, "Idempotency-Key": "key-12345678", **headers}),
    )


async def test_a_good_order_is_forwarded_with_the_verified_identity(
    make_gateway: MakeGateway,
) -> None:
    async with make_gateway() as h:
        h.upstream.answers[("POST", "/orders")] = (202, {"id": "o-1", "status": "PENDING"})
        answer = await place(h, **{"X-Request-ID": "req-42"})
        assert answer.status_code == 202
        assert answer.json() == {"id": "o-1", "status": "PENDING"}
        [sent] = h.upstream.requests
        assert json.loads(sent.body) == GOOD_ORDER
        assert sent.headers["x-user-id"] == "user-1"
        assert sent.headers["x-user-email"] == "ada@example.com"
        assert sent.headers["idempotency-key"] == "key-12345678"
        assert sent.headers["x-request-id"] == "req-42"
        assert answer.headers["x-request-id"] == "req-42"


async def test_client_identity_headers_never_reach_a_service(make_gateway: MakeGateway) -> None:
    async with make_gateway() as h:
        h.upstream.answers[("POST", "/orders")] = (202, {"id": "o-1", "status": "PENDING"})
        answer = await place(
            h,
            **{
                "X-User-Id": "victim",
                "X-User-Email": "victim@example.com",
                "X-Api-Key-Id": "partner",
                "X-Forwarded-User": "root",
                "X-ShopMesh-Identity-Role": "admin",
                "Cookie": "session=1",
            },
        )
        assert answer.status_code == 202
        sent = h.upstream.requests[0].headers
        assert sent["x-user-id"] == "user-1"
        assert sent["x-user-email"] == "ada@example.com"
        for name in ("x-api-key-id", "x-forwarded-user", "x-shopmesh-identity-role", "cookie"):
            assert name not in sent
        assert not sent.get("authorization", "").endswith(h.keys.token()[-20:])


@pytest.mark.parametrize(
    ("upstream_status", "status"),
    [(409, 409), (422, 422), (500, 502), (503, 503)],
)
async def test_upstream_answers_map_to_client_answers(
    make_gateway: MakeGateway, upstream_status: int, status: int
) -> None:
    async with make_gateway() as h:
        h.upstream.answers[("POST", "/orders")] = (upstream_status, {"detail": "internal detail"})
        answer = await place(h)
        assert answer.status_code == status
        if status >= 500:
            assert "internal detail" not in answer.text
            assert answer.headers["content-type"] == "application/problem+json"


async def test_a_service_that_is_down_is_503(make_gateway: MakeGateway) -> None:
    async with make_gateway(orders_url="http://127.0.0.1:9") as h:
        answer = await place(h)
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["type"] == "urn:shopmesh:upstream-unavailable"


async def test_answer_headers_pass_through_an_allow_list(make_gateway: MakeGateway) -> None:
    async with make_gateway() as h:
        h.upstream.answers[("POST", "/orders")] = (202, {"id": "o-1", "status": "PENDING"})
        h.upstream.response_headers[("POST", "/orders")] = {
            "Location": "/orders/o-1",
            "Idempotent-Replayed": "true",
            "Set-Cookie": "internal=1",
            "X-Internal-Host": "orders-7f9c",
        }
        answer = await place(h)
        assert answer.headers["location"] == "/api/orders/o-1"
        assert answer.headers["idempotent-replayed"] == "true"
        assert "set-cookie" not in answer.headers
        assert "x-internal-host" not in answer.headers


@pytest.mark.parametrize(
    ("order_owner", "status"),
    [pytest.param("user-1", 200, id="owner"), pytest.param("user-2", 404, id="someone-else")],
)
async def test_only_the_owner_reads_an_order(
    make_gateway: MakeGateway, order_owner: str, status: int
) -> None:
    order_id = "4f9b7a3e-1a6c-4d8e-9b0a-2f6e1c3d5a7b"
    async with make_gateway() as h:
        h.upstream.answers[("GET", f"/orders/{order_id}")] = (
            200,
            {"id": order_id, "customer_id": order_owner, "status": "CONFIRMED"},
        )
        answer = await h.client.get(f"/api/orders/{order_id}", headers=h.auth())
        assert answer.status_code == status
        if status == 404:
            assert answer.json()["type"] == "urn:shopmesh:order-not-found"


@pytest.mark.parametrize("order_id", ["not-a-uuid", "..", "%2e%2e", "1;DROP"])
async def test_odd_order_ids_are_404_and_reach_no_service(
    make_gateway: MakeGateway, order_id: str
) -> None:
    async with make_gateway() as h:
        answer = await h.client.get(f"/api/orders/{order_id}", headers=h.auth())
        assert answer.status_code == 404
        assert h.upstream.requests == []
