"""Fakes for the tests of `lifespan.service_lifespan` and what builds on it (consumers).

`databases` replaces `db.Database` with `FakeDatabase` (no PostgreSQL) and lists every one
the lifespan opens; `upgraded` records the migrations it would run, as (package, url).
"""

from __future__ import annotations

import pytest

from shopmesh_common import lifespan


class FakeDatabase:
    """Stands in for `db.Database`: its url, pool size and state (new, connected, closed)."""

    def __init__(self, url: str, *, max_size: int) -> None:
        self.url, self.max_size, self.state = url, max_size, "new"

    async def connect(self) -> None:
        self.state = "connected"

    async def close(self) -> None:
        self.state = "closed"

    async def ping(self) -> None:
        return None


@pytest.fixture
def databases(monkeypatch: pytest.MonkeyPatch) -> list[FakeDatabase]:
    """The databases the lifespan opens (fakes, reachable at once)."""
    opened: list[FakeDatabase] = []

    def open_database(url: str, *, max_size: int) -> FakeDatabase:
        opened.append(FakeDatabase(url, max_size=max_size))
        return opened[-1]

    async def reachable(url: str, *, within: float) -> None:
        return None

    monkeypatch.setattr(lifespan, "Database", open_database)
    monkeypatch.setattr(lifespan, "wait_for_database", reachable)
    return opened


@pytest.fixture
def upgraded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """The migrations the lifespan runs, as (package, database url), instead of running them."""
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(lifespan, "upgrade", lambda package, url: calls.append((package, url)))
    return calls
