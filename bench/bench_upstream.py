"""The upstream for bench/gateway_vs_nginx.py: a minimal ASGI app standing in for users
(JWKS), orders (GET /orders/{id}) and inventory (GET /products), so that the gateway, nginx
and a direct client are compared against the same fast upstream. Raw ASGI, not FastAPI:
the upstream must not be the bottleneck of the comparison.

`python bench/bench_upstream.py <port> <jwks.json> <customer id>` (uvicorn, one worker).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import uvicorn

Scope = dict[str, Any]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def build(jwks: bytes, customer_id: str) -> Callable[..., Awaitable[None]]:
    products = json.dumps([{"id": "p1", "name": "Mug", "price_cents": 1299, "stock": 5}]).encode()
    headers = [(b"content-type", b"application/json")]

    async def app(scope: Scope, _receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == "/.well-known/jwks.json":
            body = jwks
        elif path.startswith("/orders/"):
            order_id = path.rsplit("/", 1)[1]
            body = json.dumps(
                {
                    "id": order_id,
                    "customer_id": customer_id,
                    "status": "CONFIRMED",
                    "reason": None,
                    "items": [],
                    "total_cents": 2598,
                }
            ).encode()
        elif path == "/products":
            body = products
        else:
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": b"{}"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


if __name__ == "__main__":
    port, jwks_path, customer = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(jwks_path, "rb") as f:
        application = build(f.read(), customer)
    uvicorn.run(
        application,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        loop="uvloop",
        http="httptools",
        access_log=False,
    )
