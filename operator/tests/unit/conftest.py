"""Fixtures shared by the unit tests: a fake cluster holding one Microservice, and a
fresh registry of Microservices waiting on a missing caller for every test."""

from __future__ import annotations

from collections import defaultdict

import pytest

from shopmesh_operator import callers

from .fake_cluster import FakeCluster, microservice_body


@pytest.fixture(autouse=True)
def _no_waiting_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    """callers.py keeps who waits on which ServiceAccount in a module global; a
    test must not see the waits another one left behind."""
    monkeypatch.setattr(callers, "_waiting", defaultdict(set))


@pytest.fixture
def cluster() -> FakeCluster:
    """shop/cart, generation 1, not reconciled yet."""
    fake = FakeCluster()
    fake.put(microservice_body())
    return fake
