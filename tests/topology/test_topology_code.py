"""charts/shopmesh/topology.yaml against the code it describes, read from the code itself
(ci/topology/code.py imports each service's Settings and composition root): the same
services, names, databases and upstreams, and only environment variables the services read.
What the chart makes of the topology is checked in tests/chart/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ci.topology import REPO, Service, load_topology, url_env
from ci.topology import code as code_facts

TOPOLOGY = load_topology()
SERVICES = [pytest.param(service, id=service.name) for service in TOPOLOGY.services.values()]


def code_callers(name: str) -> set[str]:
    """The shop services whose code calls `name`."""
    return {
        caller.name
        for caller in TOPOLOGY.services.values()
        if name in code_facts.downstream_names(caller)
    }


def test_every_service_in_services_is_in_the_topology() -> None:
    packages = {path.name for path in (REPO / "services").glob("*/src/shopmesh_*")}
    assert {s.package for s in TOPOLOGY.services.values()} == packages - {"shopmesh_common"}


@pytest.mark.parametrize("service", SERVICES)
def test_name_and_database_are_what_its_settings_default_to(service: Service) -> None:
    settings = code_facts.default_settings(service)
    assert (settings.service_name, settings.database) == (service.name, service.database)


@pytest.mark.parametrize("service", SERVICES)
def test_upstreams_are_the_downstreams_its_code_calls(service: Service) -> None:
    assert set(service.upstreams) == code_facts.downstream_names(service)


@pytest.mark.parametrize("service", SERVICES)
def test_each_upstream_is_a_url_setting(service: Service) -> None:
    assert set(service.upstreams) == code_facts.url_setting_names(service)
    for upstream in service.upstreams:
        assert code_facts.reads_env(service, url_env(upstream))


@pytest.mark.parametrize("service", SERVICES)
def test_upstream_url_defaults_are_the_upstreams_local_ports(service: Service) -> None:
    """A service started bare (no SHOPMESH_*_URL) finds its upstreams where shop-up runs them."""
    settings = code_facts.default_settings(service)
    for upstream in service.upstreams:
        port = TOPOLOGY.services[upstream].local_port
        assert getattr(settings, f"{upstream.replace('-', '_')}_url") == f"http://127.0.0.1:{port}"


@pytest.mark.parametrize("service", SERVICES)
def test_its_pods_env_is_read_by_its_settings(service: Service) -> None:
    unread = [name for name in service.env if not code_facts.reads_env(service, name)]
    assert not unread, f"{service.name} reads none of {unread}"


@pytest.mark.parametrize("service", SERVICES)
def test_uses_what_its_settings_connect_to(service: Service) -> None:
    fields = code_facts.settings_class(service).model_fields
    assert "postgres" in service.uses  # every service owns a database
    assert ("smtp" in service.uses) == ("smtp_host" in fields)
    if "queue" in fields:  # an event consumer
        assert "amqp" in service.uses


@pytest.mark.parametrize("service", SERVICES)
def test_local_env_is_read_and_allows_every_caller_in_the_code(service: Service) -> None:
    env = TOPOLOGY.local_env(service.name, lambda upstream: f"http://{upstream}")
    assert [name for name in env if not code_facts.reads_env(service, name)] == []
    assert {url_env(up) for up in service.upstreams} <= set(env)
    if service.edge:
        assert env["SHOPMESH_REQUIRE_SERVICE_TOKEN"] == "false"
        assert "SHOPMESH_ALLOWED_CALLERS" not in env
    else:
        allowed = set(env["SHOPMESH_ALLOWED_CALLERS"].split(","))
        assert code_callers(service.name) <= allowed
        assert env["SHOPMESH_REQUIRE_SERVICE_TOKEN"] == "true"


# (service, allowedCallers, SHOPMESH_ALLOWED_CALLERS): derived from upstreams and callers
CALLERS = [
    pytest.param(
        "gateway", ["istio-system/istio-ingressgateway-service-account"], [], id="gateway"
    ),
    pytest.param("users", ["gateway", "admin"], ["gateway", "admin"], id="users"),
    pytest.param("orders", ["gateway"], ["gateway"], id="orders"),
    pytest.param(
        "inventory", ["gateway", "orders", "admin"], ["gateway", "orders", "admin"], id="inventory"
    ),
    pytest.param("payments", ["orders", "admin"], ["orders", "admin"], id="payments"),
    pytest.param("notifications", ["admin"], ["admin"], id="notifications"),
    pytest.param("order-history", ["gateway", "admin"], ["gateway", "admin"], id="order-history"),
]


@pytest.mark.parametrize(("name", "mesh", "tokens"), CALLERS)
def test_callers_follow_from_the_upstreams(name: str, mesh: list[str], tokens: list[str]) -> None:
    assert TOPOLOGY.mesh_callers(name) == mesh
    assert TOPOLOGY.token_callers(name) == tokens


def test_every_service_starts_after_its_upstreams() -> None:
    order = [service.name for service in TOPOLOGY.start_order()]
    assert sorted(order) == sorted(TOPOLOGY.services)
    for service in TOPOLOGY.services.values():
        for upstream in service.upstreams:
            assert order.index(upstream) < order.index(service.name)


def test_services_readme_table_agrees() -> None:
    """services/README.md's map repeats package and port for readers: it must not drift."""
    text = (REPO / "services/README.md").read_text()
    rows = re.findall(r"^\| ([a-z-]+) \| `(shopmesh_[a-z_]+)` \| (\d+) \|", text, re.M)
    assert {name: (package, int(port)) for name, package, port in rows} == {
        s.name: (s.package, s.local_port) for s in TOPOLOGY.services.values()
    }


# (a change to the real topology, what loading it says)
BROKEN = [
    pytest.param(
        ("upstreams: [inventory, payments]", "upstreams: [inventory, billing]"),
        "orders: upstream 'billing' is not a service",
        id="unknown-upstream",
    ),
    pytest.param(
        ("upstreams: [inventory, payments]", "upstreams: [orders]"),
        "orders: upstream 'orders' is not a service",
        id="calls-itself",
    ),
    pytest.param(
        ("callers: [ingress]", "callers: [browser]"),
        "gateway: caller 'browser' is not in callers",
        id="unknown-caller",
    ),
    pytest.param(
        ("uses: [postgres, amqp, smtp]", "uses: [postgres, amqp, kafka]"),
        "notifications: uses 'kafka'",
        id="unknown-infrastructure",
    ),
    pytest.param(("localPort: 8106", "localPort: 8100"), "local ports repeat", id="same-port"),
]


@pytest.mark.parametrize(("change", "message"), BROKEN)
def test_a_broken_topology_fails_to_load(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    text = (REPO / "charts/shopmesh/topology.yaml").read_text()
    assert change[0] in text
    broken = tmp_path / "topology.yaml"
    broken.write_text(text.replace(change[0], change[1], 1))
    with pytest.raises(ValueError, match=re.escape(message)):
        load_topology(broken)
