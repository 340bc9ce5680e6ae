"""service_layer.api_keys' cache of key lookups: with a revocation feed, keys are cached
only while the feed is followed (a replica that cannot hear revocations must not trust
its cache), a revocation heard from another replica is forgotten at once, and one made
here is published."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from shopmesh_gateway.adapters import api_keys_repo
from shopmesh_gateway.domain.api_keys import ApiKeyRecord, generate_key
from shopmesh_gateway.service_layer.api_keys import ApiKeys

KEY = generate_key()
KEY_ID = "7f1c0a52-0000-4000-8000-000000000001"
RECORD = ApiKeyRecord(
    id=KEY_ID,
    name="partner",
    prefix=KEY.secret[:12],
    scopes=("orders.read",),
    created_at=datetime(2026, 12, 7, tzinfo=UTC),
    revoked_at=None,
)


class Feed:
    def __init__(self) -> None:
        self.published: list[str] = []

    async def publish(self, key_id: str) -> None:
        self.published.append(key_id)


@pytest.fixture
def lookups(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    seen: list[bytes] = []

    async def find_active(db: Any, digest: bytes) -> ApiKeyRecord | None:
        seen.append(digest)
        return RECORD

    async def revoke(db: Any, key_id: Any) -> bool:
        return True

    monkeypatch.setattr(api_keys_repo, "find_active", find_active)
    monkeypatch.setattr(api_keys_repo, "revoke", revoke)
    return seen


async def identify_twice(keys: ApiKeys) -> None:
    for _ in range(2):
        identity = await keys.identify(KEY.secret)
        assert identity is not None
        assert identity.api_key_id == KEY_ID


@pytest.mark.parametrize(
    ("feed", "subscribed", "queries"),
    [
        pytest.param(False, None, 1, id="no-feed-caches"),
        pytest.param(True, None, 2, id="feed-not-followed-yet-caches-nothing"),
        pytest.param(True, True, 1, id="feed-followed-caches"),
        pytest.param(True, False, 2, id="feed-lost-caches-nothing"),
    ],
)
async def test_keys_are_cached_only_while_revocations_can_be_heard(
    lookups: list[bytes], feed: bool, subscribed: bool | None, queries: int
) -> None:
    keys = ApiKeys(None, cache_seconds=30, feed=Feed() if feed else None)  # type: ignore[arg-type]
    if subscribed is not None:
        keys.set_caching(True)
        if not subscribed:
            keys.set_caching(False)
    await identify_twice(keys)
    assert len(lookups) == queries


async def test_a_revocation_heard_from_another_replica_is_forgotten_at_once(
    lookups: list[bytes],
) -> None:
    keys = ApiKeys(None, cache_seconds=30, feed=Feed())  # type: ignore[arg-type]
    keys.set_caching(True)
    await identify_twice(keys)
    keys.forget(KEY_ID)
    await keys.identify(KEY.secret)
    assert len(lookups) == 2  # asked the database again


async def test_a_revocation_here_is_published(lookups: list[bytes]) -> None:
    feed = Feed()
    keys = ApiKeys(None, cache_seconds=30, feed=feed)  # type: ignore[arg-type]
    assert await keys.revoke(KEY_ID)  # type: ignore[arg-type]
    assert feed.published == [KEY_ID]
