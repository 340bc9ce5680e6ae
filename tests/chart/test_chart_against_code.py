"""The Microservices the chart installs, and the examples generated from them, against the
services' code (ci/topology/code.py imports it): every caller the code has is allowed, in
the mesh (spec.mesh.allowedCallers) and in the service tokens (SHOPMESH_ALLOWED_CALLERS);
every environment variable is one the service reads; each service finds its upstreams and
the infrastructure it uses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import yaml

from ci.topology import CHART, Service, load_topology, url_env
from ci.topology import code as code_facts
from ci.topology.chart import EXAMPLES_DIR, EXAMPLES_NAMESPACE

from .support import Render, kinds

TOPOLOGY = load_topology()
SERVICES = list(TOPOLOGY.services.values())
#: The infrastructure a service uses -> the variables that point it there.
INFRA_ENV = {
    "postgres": ["SHOPMESH_POSTGRES_URL"],
    "redis": ["SHOPMESH_REDIS_URL"],
    "amqp": ["SHOPMESH_AMQP_URL"],
    "smtp": ["SHOPMESH_SMTP_HOST", "SHOPMESH_SMTP_PORT"],
}
Source = Callable[[Render], tuple[str, dict[str, dict[str, Any]]]]


def from_chart(render: Render) -> tuple[str, dict[str, dict[str, Any]]]:
    docs = render("-f", str(CHART / "ci/shop-external-values.yaml"), namespace="shop")
    return "shop", kinds(docs, "Microservice")


def from_examples(_render: Render) -> tuple[str, dict[str, dict[str, Any]]]:
    docs = [yaml.safe_load(path.read_text()) for path in sorted(EXAMPLES_DIR.glob("*.yaml"))]
    return EXAMPLES_NAMESPACE, kinds(docs, "Microservice")


CASES = [
    pytest.param(source, service, id=f"{source.__name__.removeprefix('from_')}-{service.name}")
    for source in (from_chart, from_examples)
    for service in SERVICES
]


def code_callers(name: str) -> set[str]:
    """The shop services whose code calls `name` (their main.downstreams)."""
    return {s.name for s in SERVICES if name in code_facts.downstream_names(s)}


def spec_of(source: Source, render: Render, service: Service) -> tuple[str, dict[str, Any]]:
    namespace, microservices = source(render)
    assert service.name in microservices, f"no Microservice {service.name}"
    return namespace, microservices[service.name]["spec"]


@pytest.mark.parametrize(("source", "service"), CASES)
def test_allowed_callers_cover_the_call_graph_in_the_code(
    render: Render, source: Source, service: Service
) -> None:
    _, spec = spec_of(source, render, service)
    env = {var["name"]: var.get("value") for var in spec["env"]}
    callers = code_callers(service.name)
    assert callers <= set(spec["mesh"]["allowedCallers"])
    if service.edge:
        assert env["SHOPMESH_REQUIRE_SERVICE_TOKEN"] == "false"
    else:
        assert callers <= set(env["SHOPMESH_ALLOWED_CALLERS"].split(","))
    for key in service.callers:  # the outside callers too: admin tooling, the ingress
        assert TOPOLOGY.callers[key].service_account in spec["mesh"]["allowedCallers"]


@pytest.mark.parametrize(("source", "service"), CASES)
def test_every_env_name_is_read_by_the_service(
    render: Render, source: Source, service: Service
) -> None:
    _, spec = spec_of(source, render, service)
    unread = [v["name"] for v in spec["env"] if not code_facts.reads_env(service, v["name"])]
    assert unread == [], f"{service.name}'s Settings read none of {unread}"


@pytest.mark.parametrize(("source", "service"), CASES)
def test_each_service_finds_its_upstreams_and_infrastructure(
    render: Render, source: Source, service: Service
) -> None:
    namespace, spec = spec_of(source, render, service)
    env = {var["name"]: var for var in spec["env"]}
    for upstream in code_facts.downstream_names(service):
        url = f"http://{upstream}.{namespace}.svc.cluster.local:8080"
        assert env[url_env(upstream)] == {"name": url_env(upstream), "value": url}
    for what in service.uses:
        assert set(INFRA_ENV[what]) <= set(env), what
    assert env["OTEL_SERVICE_NAME"]["value"] == service.name
