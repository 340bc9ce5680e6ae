"""The upstream for bench/gateway_vs_nginx.py: a minimal FastAPI app (what the shop's
services are) standing in for users (JWKS), orders (GET /orders/{id}) and inventory
(GET /products), so that the gateway, nginx and a direct client meet the same upstream.

`python bench/bench_upstream.py <port> <jwks.json> <customer id>` (uvicorn, one worker).
"""

from __future__ import annotations

import sys
from typing import Any

import uvicorn
from fastapi import FastAPI, Response


def build(jwks: bytes, customer_id: str) -> FastAPI:
    """What the shop's services look like to a proxy: a FastAPI app."""
    app = FastAPI()
    products = [{"id": "p1", "name": "Mug", "price_cents": 1299, "stock": 5}]

    @app.get("/.well-known/jwks.json")
    async def jwks_document() -> Response:
        return Response(jwks, media_type="application/json")

    @app.get("/orders/{order_id}")
    async def order(order_id: str) -> dict[str, Any]:
        return {
            "id": order_id,
            "customer_id": customer_id,
            "status": "CONFIRMED",
            "reason": None,
            "items": [],
            "total_cents": 2598,
        }

    @app.get("/products")
    async def list_products() -> list[dict[str, Any]]:
        return products

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
