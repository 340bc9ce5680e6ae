"""Fixtures of the gateway's unit tests: `make_gateway` runs the real app (routes, pipeline,
middleware, resilient clients) with in-memory keys, rate-limit counter, API keys and
composition cache, and one fake upstream standing in for every service.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway_testkit import (
    FakeApiKeys,
    FakeUpstream,
    Harness,
    InMemoryCounter,
    KeySet,
    MakeGateway,
    MemoryCompositionCache,
)

from shopmesh_common.resilience import ClientFactory
from shopmesh_common.testing import app_client
from shopmesh_gateway.api.pipeline import Gateway
from shopmesh_gateway.main import build_app, build_gateway, downstreams
from shopmesh_gateway.settings import Settings


@pytest.fixture
async def upstream() -> AsyncIterator[FakeUpstream]:
    fake = FakeUpstream()
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def make_gateway(upstream: FakeUpstream) -> MakeGateway:
    """`async with make_gateway(**settings) as harness:` the real app on fakes."""

    @asynccontextmanager
    async def build(**overrides: Any) -> AsyncIterator[Harness]:
        values: dict[str, Any] = {
            "users_url": upstream.url,
            "orders_url": upstream.url,
            "inventory_url": upstream.url,
            "order_history_url": upstream.url,
            "upstream_retry_attempts": 1,
        }
        values.update(overrides)
        settings = Settings(**values)
        keys = KeySet()
        counter = InMemoryCounter()
        api_keys = FakeApiKeys({})
        cache = MemoryCompositionCache()
        holder: dict[str, Gateway] = {}

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            clients = ClientFactory("gateway", downstreams(settings))
            gateway = build_gateway(
                settings,
                clients=clients,
                counter=counter,
                api_keys=api_keys,
                composition_cache=cache,  # type: ignore[arg-type]
                jwks_fetch=keys.fetch,
            )
            holder["gateway"] = gateway
            app.state.settings = settings
            app.state.db = None
            app.state.gateway = gateway
            try:
                yield
            finally:
                await gateway.jwks.close()
                await clients.close()

        app = build_app(settings, lifespan=lifespan)
        async with app_client(app) as client:
            yield Harness(
                client=client,
                upstream=upstream,
                keys=keys,
                counter=counter,
                api_keys=api_keys,
                cache=cache,
                gateway=holder["gateway"],
            )

    return build
