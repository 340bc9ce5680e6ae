"""Fixtures for the cross-service tests: the shop running as real processes on the stack."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
from shop_helpers import delete_queues
from shop_processes import Shop


@pytest.fixture
async def make_shop() -> AsyncIterator[Callable[..., Shop]]:
    """Build (and afterwards tear down) a shop with per-service environment overrides."""
    shops: list[Shop] = []

    async def build(extra_env: dict[str, dict[str, str]] | None = None) -> Shop:
        shop = Shop(extra_env=extra_env or {})
        shops.append(shop)
        await shop.create_databases()
        shop.configure()
        return shop

    yield build  # type: ignore[misc]
    for shop in shops:
        shop.stop()
        await delete_queues(shop)
        await shop.drop_databases()
