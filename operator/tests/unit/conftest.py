"""Fixtures shared by the unit tests: a fake cluster holding one Microservice. (What
passes share, the callers waited on and the re-checks, lives on a `Reconciler`, so a
test that needs it across passes makes its own.)"""

from __future__ import annotations

import pytest

from .fake_cluster import FakeCluster, microservice_body


@pytest.fixture
def cluster() -> FakeCluster:
    """shop/cart, generation 1, not reconciled yet."""
    fake = FakeCluster()
    fake.put(microservice_body())
    return fake
