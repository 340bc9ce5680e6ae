"""`migrate.lock_key`: the advisory lock of a package's migrations is its own, the same in
every process, and a PostgreSQL bigint. (Concurrent upgrades: tests/integration.)"""

from __future__ import annotations

import subprocess
import sys

import pytest

from shopmesh_common.migrate import lock_key


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("shopmesh_orders", "shopmesh_users", id="two services"),
        pytest.param("shopmesh_orders", "shopmesh_orders", id="one service"),
    ],
)
def test_each_package_has_a_lock_of_its_own(first: str, second: str) -> None:
    assert (lock_key(first) == lock_key(second)) is (first == second)
    assert -(2**63) <= lock_key(first) < 2**63


def test_every_process_computes_the_same_lock() -> None:
    # str hashes change per process (PYTHONHASHSEED); replicas must agree on the key.
    code = "from shopmesh_common.migrate import lock_key; print(lock_key('shopmesh_orders'))"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(other.stdout) == lock_key("shopmesh_orders")
