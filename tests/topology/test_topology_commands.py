"""`python -m ci.topology local-services | local-env NAME`: what ci/stack/shop.sh reads."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ci.topology import REPO, load_topology

TOPOLOGY = load_topology()


def run(*args: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-m", "ci.topology", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.splitlines()


def test_local_services_lists_name_port_and_package_upstreams_first() -> None:
    expected = [f"{s.name} {s.local_port} {s.package}" for s in TOPOLOGY.start_order()]
    assert run("local-services") == expected


# (service, the lines shop.sh passes to `env` before starting it)
LOCAL_ENV = [
    pytest.param(
        "gateway",
        [
            "SHOPMESH_USERS_URL=http://127.0.0.1:8101",
            "SHOPMESH_ORDERS_URL=http://127.0.0.1:8102",
            "SHOPMESH_INVENTORY_URL=http://127.0.0.1:8103",
            "SHOPMESH_ORDER_HISTORY_URL=http://127.0.0.1:8106",
            "SHOPMESH_REQUIRE_SERVICE_TOKEN=false",
        ],
        id="gateway-edge",
    ),
    pytest.param(
        "orders",
        [
            "SHOPMESH_INVENTORY_URL=http://127.0.0.1:8103",
            "SHOPMESH_PAYMENTS_URL=http://127.0.0.1:8104",
            "SHOPMESH_REQUIRE_SERVICE_TOKEN=true",
            "SHOPMESH_ALLOWED_CALLERS=gateway",
        ],
        id="orders-saga",
    ),
    pytest.param(
        "payments",
        ["SHOPMESH_REQUIRE_SERVICE_TOKEN=true", "SHOPMESH_ALLOWED_CALLERS=orders,admin"],
        id="payments-leaf",
    ),
]


@pytest.mark.parametrize(("service", "lines"), LOCAL_ENV)
def test_local_env(service: str, lines: list[str]) -> None:
    assert run("local-env", service) == lines


def test_local_env_refuses_an_unknown_service() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ci.topology", "local-env", "billing"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "invalid choice: 'billing'" in result.stderr
