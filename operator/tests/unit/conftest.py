"""Fixtures shared by the unit tests: a fake cluster holding one Microservice, and
fresh registries of Microservices waiting on a missing caller or a re-check for
every test."""

from __future__ import annotations

from collections import defaultdict

import pytest

from shopmesh_operator import callers, requeue

from .fake_cluster import FakeCluster, microservice_body


@pytest.fixture(autouse=True)
def _no_waiting_callers(monkeypatch: pytest.MonkeyPatch) -> None:
    """callers.py keeps who waits on which ServiceAccount in a module global; a
    test must not see the waits another one left behind."""
    monkeypatch.setattr(callers, "_waiting", defaultdict(set))


@pytest.fixture(autouse=True)
def _no_rechecks(monkeypatch: pytest.MonkeyPatch) -> None:
    """requeue.py keeps the booked re-checks in a module global, like callers.py."""
    monkeypatch.setattr(requeue, "_due", {})


@pytest.fixture
def cluster() -> FakeCluster:
    """shop/cart, generation 1, not reconciled yet."""
    fake = FakeCluster()
    fake.put(microservice_body())
    return fake
