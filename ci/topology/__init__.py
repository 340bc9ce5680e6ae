"""The shop's topology (charts/shopmesh/topology.yaml) as Python: who the services are,
whom each calls, their packages, local ports and databases, so that no script repeats them.

Who uses it: ci/stack/shop.sh through the commands in `__main__` (`local-services`,
`local-env`), tests/shop/shop_processes.py (`load_topology`, `Topology.local_env`), and the
tests under tests/topology/ and tests/chart/. `chart` renders the chart's Microservices
(and writes examples/microservices/ from them); `code` reads what the services' own code says,
to check the topology against it. Import it with the repository root on sys.path
(`python -m ci.topology` from the root does that).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts/shopmesh"
TOPOLOGY_PATH = CHART / "topology.yaml"
INFRASTRUCTURE = frozenset({"postgres", "redis", "amqp", "smtp"})


@dataclass(frozen=True)
class Caller:
    """An identity that calls shop services without being one (admin tooling, the ingress)."""

    key: str
    service_account: str
    token: str | None
    why: str


@dataclass(frozen=True)
class Service:
    """One shop service, as topology.yaml describes it."""

    name: str
    package: str
    local_port: int
    database: str
    upstreams: tuple[str, ...]
    callers: tuple[str, ...]
    edge: bool
    uses: frozenset[str]
    env: Mapping[str, str]


def url_env(upstream: str) -> str:
    """The variable that points a service at `upstream`: SHOPMESH_ORDER_HISTORY_URL."""
    return f"SHOPMESH_{upstream.upper().replace('-', '_')}_URL"


@dataclass(frozen=True)
class Topology:
    """Every service and outside caller; who calls whom follows from the upstreams."""

    services: Mapping[str, Service]
    callers: Mapping[str, Caller]

    def callers_of(self, name: str) -> list[str]:
        """The shop services that call `name`, sorted."""
        return sorted(s.name for s in self.services.values() if name in s.upstreams)

    def mesh_callers(self, name: str) -> list[str]:
        """spec.mesh.allowedCallers of `name`: its shop callers, then outside ServiceAccounts."""
        outside = [self.callers[key].service_account for key in self.services[name].callers]
        return [*self.callers_of(name), *outside]

    def token_callers(self, name: str) -> list[str]:
        """SHOPMESH_ALLOWED_CALLERS of `name`: caller names in the service tokens it accepts."""
        outside = [self.callers[key].token for key in self.services[name].callers]
        return [*self.callers_of(name), *(token for token in outside if token)]

    def start_order(self) -> list[Service]:
        """Every service after the ones it calls (a process starts once its upstreams do)."""
        done: dict[str, Service] = {}

        def visit(service: Service) -> None:
            for upstream in service.upstreams:
                if upstream not in done:
                    visit(self.services[upstream])
            done.setdefault(service.name, service)

        for service in self.services.values():
            visit(service)
        return list(done.values())

    def local_env(self, name: str, url_of: Callable[[str], str]) -> dict[str, str]:
        """What a local process of `name` needs beyond the stack's variables: its upstreams'
        URLs (`url_of(upstream)`), the service-token rule and who may call it."""
        service = self.services[name]
        env = {url_env(upstream): url_of(upstream) for upstream in service.upstreams}
        env["SHOPMESH_REQUIRE_SERVICE_TOKEN"] = str(not service.edge).lower()
        if not service.edge:
            env["SHOPMESH_ALLOWED_CALLERS"] = ",".join(self.token_callers(name))
        return env


def load_topology(path: Path = TOPOLOGY_PATH) -> Topology:
    """Read and check topology.yaml (unknown names and missing fields fail here, early)."""
    raw = yaml.safe_load(path.read_text())
    callers = {
        key: Caller(
            key=key,
            service_account=entry["serviceAccount"],
            token=entry.get("token"),
            why=entry.get("why", ""),
        )
        for key, entry in raw.get("callers", {}).items()
    }
    services = {
        name: Service(
            name=name,
            package=entry["package"],
            local_port=int(entry["localPort"]),
            database=entry["database"],
            upstreams=tuple(entry.get("upstreams", ())),
            callers=tuple(entry.get("callers", ())),
            edge=bool(entry.get("edge", False)),
            uses=frozenset(entry.get("uses", ())),
            env={key: str(value) for key, value in entry.get("env", {}).items()},
        )
        for name, entry in raw["services"].items()
    }
    _check(services, callers, path)
    return Topology(services=services, callers=callers)


def _check(services: Mapping[str, Service], callers: Mapping[str, Caller], path: Path) -> None:
    problems = []
    for service in services.values():
        problems += [
            f"{service.name}: upstream {up!r} is not a service"
            for up in service.upstreams
            if up not in services or up == service.name
        ]
        problems += [
            f"{service.name}: caller {key!r} is not in callers"
            for key in service.callers
            if key not in callers
        ]
        problems += [
            f"{service.name}: uses {what!r}, not one of {sorted(INFRASTRUCTURE)}"
            for what in sorted(service.uses - INFRASTRUCTURE)
        ]
    ports = [service.local_port for service in services.values()]
    if len(set(ports)) != len(ports):
        problems.append(f"local ports repeat: {sorted(ports)}")
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
