"""Runs the shop's services as real processes for the cross-service tests and benchmarks.

Each service is `uvicorn --factory <package>.main:create_app` on a free loopback port, with
its package, upstreams and allowed callers from charts/shopmesh/topology.yaml (ci/topology.py)
and its own fresh database on the stack's PostgreSQL (created here, dropped on
`close`), so a run never sees another run's orders. Processes can be killed with SIGKILL
and started again, which is how the crash tests take orders and the relay down mid-work.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # for ci.topology

from ci.topology import load_topology  # noqa: E402

POSTGRES_URL = os.environ.get(
    "SHOPMESH_POSTGRES_URL", "postgresql://shopmesh:shopmesh@127.0.0.1:15432"
)
AMQP_URL = os.environ.get("SHOPMESH_AMQP_URL", "amqp://shopmesh:shopmesh@127.0.0.1:16672/")
REDIS_URL = os.environ.get("SHOPMESH_REDIS_URL", "redis://127.0.0.1:16379/0")
LOG_DIR = REPO / ".shopmesh" / "logs" / "shop-tests"
# The stack's Prometheus scrapes the targets listed in this directory (ci/stack/prometheus.yml).
PROMETHEUS_TARGETS = (
    Path(os.environ.get("SHOPMESH_STATE", REPO / ".shopmesh")) / "stack" / "prometheus-targets"
)
# The stack's OpenTelemetry collector (ci/stack/collector.sh); OTEL_SDK_DISABLED=true in
# the caller's environment (passed through) turns export off.
OTLP_ENDPOINT = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:14318")

TOPOLOGY = load_topology()
#: Service name -> Python package, every service after the ones it calls.
PACKAGES = {service.name: service.package for service in TOPOLOGY.start_order()}


def telemetry_env(process: str) -> dict[str, str]:
    """The standard OTEL_* variables of one process: export to the collector under the
    process's name, with short batch delays so that a test can read a trace back soon."""
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": OTLP_ENDPOINT,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_SERVICE_NAME": process,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_BLRP_SCHEDULE_DELAY": "200",
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Proc:
    """One process of the shop (a service or a stand-alone relay)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int | None = None
    popen: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = open(LOG_DIR / f"{self.name}.log", "ab")  # noqa: SIM115 (lives with the process)
        self.popen = subprocess.Popen(
            self.argv,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        if self.port is None:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.popen is not None
            if self.popen.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.popen.returncode}; see {LOG_DIR}"
                )
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.url}/health/ready", timeout=2) as answer,
            ):
                if answer.status == 200:
                    return
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout}s; see {LOG_DIR}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no goodbyes (what a crash looks like)."""
        if self.popen and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Shop:
    """Every service of the shop, each with its own fresh database."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    procs: dict[str, Proc] = field(default_factory=dict)
    databases: dict[str, str] = field(default_factory=dict)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    service_token_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48))

    def database_url(self, service: str) -> str:
        return f"{POSTGRES_URL}/{self.databases[service]}"

    @property
    def exchange(self) -> str:
        """This run's own events exchange: parallel shops never see each other's events."""
        return f"shop.events.{self.run_id}"

    def queue(self, consumer: str) -> str:
        return f"{consumer}-{self.run_id}"

    async def create_databases(self) -> None:
        admin = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
        try:
            for service in PACKAGES:
                name = f"t{self.run_id}_{service.replace('-', '_')}"
                await admin.execute(f'CREATE DATABASE "{name}"')
                self.databases[service] = name
        finally:
            await admin.close()

    async def drop_databases(self) -> None:
        admin = await asyncpg.connect(f"{POSTGRES_URL}/postgres")
        try:
            for name in self.databases.values():
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()

    def service(self, name: str) -> Proc:
        if name not in self.procs:
            port = free_port()
            self.procs[name] = Proc(
                name=name,
                port=port,
                argv=[
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--factory",
                    f"{PACKAGES[name]}.main:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                    "--log-level",
                    "warning",
                ],
                env={},
            )
        return self.procs[name]

    def configure(self) -> None:
        """Assign ports first, then every service's environment (they call each other)."""
        for name in PACKAGES:
            self.service(name)
        base = {
            "SHOPMESH_POSTGRES_URL": POSTGRES_URL,
            "SHOPMESH_AMQP_URL": AMQP_URL,
            "SHOPMESH_REDIS_URL": REDIS_URL,
            "SHOPMESH_LOG_LEVEL": "WARNING",
            "SHOPMESH_SERVICE_TOKEN_SECRET": self.service_token_secret,
            "SHOPMESH_EVENTS_EXCHANGE": self.exchange,
        }
        for name, proc in self.procs.items():
            # Its upstreams' URLs, whether it requires service tokens, and from whom: the
            # tests present tokens as the caller they stand in for ("gateway" for the public
            # routes, "admin" for seeding: shop_helpers.service_client), never a test-only one.
            local = TOPOLOGY.local_env(name, lambda upstream: self.procs[upstream].url)
            proc.env = {
                **base,
                "SHOPMESH_DATABASE": self.databases[name],
                "SHOPMESH_QUEUE": self.queue(name),
                **local,
                **telemetry_env(name),
                **self.extra_env.get(name, {}),
            }

    def relay(self, service: str, index: int = 0) -> Proc:
        """A stand-alone outbox relay for `service` (start it yourself)."""
        name = f"{service}-relay-{index}"
        if name not in self.procs:
            self.procs[name] = Proc(
                name=name,
                argv=[
                    sys.executable,
                    "-m",
                    "shopmesh_common.outbox",
                    service,
                    self.database_url(service),
                    AMQP_URL,
                ],
                env={
                    "SHOPMESH_LOG_LEVEL": "WARNING",
                    "SHOPMESH_EVENTS_EXCHANGE": self.exchange,
                    **telemetry_env(f"{service}-relay"),
                },
            )
        return self.procs[name]

    def start(self, *names: str) -> None:
        for name in names or tuple(PACKAGES):
            self.procs[name].start()
        for name in names or tuple(PACKAGES):
            self.procs[name].wait_ready()
        self.write_prometheus_targets()

    def stop(self) -> None:
        self.prometheus_targets.unlink(missing_ok=True)
        for proc in self.procs.values():
            proc.stop()

    @property
    def prometheus_targets(self) -> Path:
        """This shop's targets file for the stack's Prometheus; gone when the shop stops."""
        return PROMETHEUS_TARGETS / f"shop-{self.run_id}.json"

    def write_prometheus_targets(self) -> None:
        """Have the stack's Prometheus scrape every started service, labelled shop=<run id>."""
        groups = [
            {"targets": [f"127.0.0.1:{p.port}"], "labels": {"shop": self.run_id, "process": name}}
            for name, p in self.procs.items()
            if p.port is not None and p.popen is not None
        ]
        PROMETHEUS_TARGETS.mkdir(parents=True, exist_ok=True)
        partial = self.prometheus_targets.with_suffix(".partial")  # not *.json: never read half
        partial.write_text(json.dumps(groups))
        partial.replace(self.prometheus_targets)
