"""Fixtures of the gateway's integration tests: the real gateway in front of the real
services, each a uvicorn process on the stack (tests/shop/shop_processes.Shop), one shop
per test module.

`gateway_shop` starts users, orders, inventory, payments, order-history and the gateway
with fresh databases, an admin token, generous rate limits under a key prefix of its own
(tests that measure limits start gateways with their own), and cheap argon2 for fast
sign-ups. `GatewayShop.start_gateway(name, **env)` runs another gateway process on the
same database and Redis (a replica), with environment overrides.
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from shop_helpers import delete_queues, seed
from shop_processes import PACKAGES, Proc, Shop, free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_testkit import SigningKey

ADMIN_TOKEN = f"admin-{uuid.uuid4().hex}"
GENEROUS = {"limit": 100_000, "window_seconds": 60}
GENEROUS_LIMITS = {
    "default": {"per_user": GENEROUS, "per_ip": GENEROUS},
    "auth.signup": {"per_ip": GENEROUS},
    "auth.login": {"per_ip": GENEROUS},
}
SERVICES = ("users", "orders", "inventory", "payments", "order-history", "gateway")


@dataclass
class GatewayShop:
    shop: Shop
    rate_limit_prefix: str

    @property
    def url(self) -> str:
        return self.shop.procs["gateway"].url

    def client(self, name: str = "gateway", **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.shop.procs[name].url, timeout=30, **kwargs)

    def start_gateway(self, name: str, **env: str) -> Proc:
        """Another gateway process (same database and Redis), environment overridden."""
        base = self.shop.procs["gateway"]
        port = free_port()
        argv = [*base.argv]
        argv[argv.index("--port") + 1] = str(port)
        proc = Proc(name=name, argv=argv, env={**base.env, **env}, port=port)
        self.shop.procs[name] = proc
        proc.start()
        proc.wait_ready()
        return proc

    async def sign_up(self, client: httpx.AsyncClient) -> tuple[str, str]:
        """A new user through the gateway; returns (user id, access token)."""
        email = f"u-{uuid.uuid4().hex[:10]}@example.com"
        created = await client.post(
            "/api/auth/signup",
            json={"email": email, "password": "correct horse", "name": "Ada"},
        )
        assert created.status_code == 201, created.text
        login = await client.post(
            "/api/auth/login", json={"email": email, "password": "correct horse"}
        )
        assert login.status_code == 200, login.text
        return created.json()["id"], login.json()["access_token"]

    async def signing_key(self) -> SigningKey:
        """users' current signing key, read from its database: lets a test forge tokens that
        differ from real ones in exactly one claim."""
        conn = await asyncpg.connect(self.shop.database_url("users"))
        try:
            row = await conn.fetchrow(
                """SELECT kid, private_pem, public_jwk FROM signing_keys
                   WHERE NOT retired AND retire_at IS NULL ORDER BY active_from DESC LIMIT 1"""
            )
        finally:
            await conn.close()
        assert row is not None
        private = serialization.load_pem_private_key(row["private_pem"].encode(), password=None)
        assert isinstance(private, ec.EllipticCurvePrivateKey)
        jwk = row["public_jwk"]
        return SigningKey(
            kid=row["kid"], private=private, jwk=json.loads(jwk) if isinstance(jwk, str) else jwk
        )

    async def sql(self, service: str, query: str, *args: Any) -> Any:
        conn = await asyncpg.connect(self.shop.database_url(service))
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()


@pytest.fixture(scope="module")
def gateway_shop() -> Iterator[GatewayShop]:
    assert "gateway" in PACKAGES
    run = uuid.uuid4().hex[:8]
    prefix = f"shopmesh:gateway:rl:test-{run}"
    shop = Shop(
        extra_env={
            "gateway": {
                "SHOPMESH_GATEWAY_ADMIN_TOKEN": ADMIN_TOKEN,
                "SHOPMESH_RATE_LIMITS": json.dumps(GENEROUS_LIMITS),
                "SHOPMESH_RATE_LIMIT_KEY_PREFIX": prefix,
            },
            "users": {
                "SHOPMESH_ARGON2_TIME_COST": "1",
                "SHOPMESH_ARGON2_MEMORY_COST_KIB": "8",
                "SHOPMESH_ARGON2_PARALLELISM": "1",
            },
            "order-history": {"SHOPMESH_RETRY_DELAYS": "0.5,1,2"},
        }
    )
    asyncio.run(shop.create_databases())
    try:
        shop.configure()
        shop.start(*SERVICES)
        asyncio.run(seed(shop, stock=1_000))
        yield GatewayShop(shop=shop, rate_limit_prefix=prefix)
    finally:
        shop.stop()
        asyncio.run(delete_queues(shop))
        asyncio.run(shop.drop_databases())


@pytest.fixture(scope="session")
def admin_token() -> str:
    """The admin bearer token the shop's gateway was started with."""
    return ADMIN_TOKEN
