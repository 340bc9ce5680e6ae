"""Fixtures shared by the unit tests: a fake cluster holding one Microservice."""

from __future__ import annotations

import pytest

from .fake_cluster import FakeCluster, microservice_body


@pytest.fixture
def cluster() -> FakeCluster:
    """shop/cart, generation 1, not reconciled yet."""
    fake = FakeCluster()
    fake.put(microservice_body())
    return fake
