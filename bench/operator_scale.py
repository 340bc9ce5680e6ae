"""Operator benchmark on the real local control plane, printed as ratios.

1. Latency from creating one Microservice to all its children present, p50/p99
   over N creates, next to the time a client takes to apply the same rendered
   children itself (the limit).
2. M Microservices created at once: time until all are Ready, next to the time
   for the API server to accept the same rendered children applied directly
   without the operator and for their Deployments to become Available (the
   limit). Goal: at most 1.5x.
3. The operator's resident memory with M Microservices. Goal: under 150 MB.
4. Write calls the operator makes while idle, from its own request counter
   (shopmesh_operator_api_requests_total); the API server's apiserver_request_total
   for the same kinds is printed beside it (it also counts the controllers'). Goal: 0.

Run by `make bench` (BENCH_LATENCY_N, BENCH_SCALE_N, BENCH_IDLE_SECONDS).
The operator runs as its own process, limited to the bench-* namespaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from shopmesh_operator.apply import ApiException, KubeApi
from shopmesh_operator.models import Microservice
from shopmesh_operator.render import build_children

REPO = Path(__file__).resolve().parents[1]
LATENCY_N = int(os.environ.get("BENCH_LATENCY_N", "50"))
SCALE_N = int(os.environ.get("BENCH_SCALE_N", "1000"))
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "300"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "32"))
METRICS_PORT = os.environ.get("BENCH_OPERATOR_METRICS_PORT", "18081")
WRITE_VERBS = {"POST", "PUT", "PATCH", "APPLY", "DELETE"}
OUR_RESOURCES = {
    "microservices",
    "serviceaccounts",
    "services",
    "deployments",
    "horizontalpodautoscalers",
    "poddisruptionbudgets",
    "peerauthentications",
    "authorizationpolicies",
    "destinationrules",
    "virtualservices",
    "servicemonitors",
    "events",
}


def spec(i: int) -> dict[str, Any]:
    return {
        "image": f"bench/svc:{1 + i % 3}.0.0",
        "replicas": 1,
        "mesh": {"allowedCallers": ["default"]},
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}},
    }


def body(name: str, namespace: str, i: int) -> dict[str, Any]:
    return {
        "apiVersion": "shopmesh.io/v1alpha1",
        "kind": "Microservice",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec(i),
    }


def rendered(name: str, namespace: str, i: int) -> list[dict[str, Any]]:
    """The children the operator would render, without owner references (no owner here)."""
    ms = Microservice.model_validate(
        {"metadata": {"name": name, "namespace": namespace, "uid": "x"}, "spec": spec(i)}
    )
    children = build_children(ms)
    for child in children:
        child["metadata"].pop("ownerReferences", None)
    return children


async def bounded(n: int, make: Callable[[int], Awaitable[Any]]) -> None:
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(i: int) -> None:
        async with gate:
            await make(i)

    await asyncio.gather(*(one(i) for i in range(n)))


# Pods land only on KWOK's fake nodes, tolerating their taint (PodNodeSelector and
# PodTolerationRestriction admission; the same annotations as tests/e2e/kube.py).
KWOK_NAMESPACE_ANNOTATIONS = {
    "scheduler.alpha.kubernetes.io/node-selector": "type=kwok",
    "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps(
        [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]
    ),
}


class Bench:
    """The client side of the benchmark, over the operator's own aiohttp client."""

    def __init__(self, kube: KubeApi) -> None:
        self.kube = kube
        self.namespaces: list[str] = []

    async def namespace(self, prefix: str) -> str:
        name = f"bench-{prefix}-{uuid.uuid4().hex[:6]}"
        # The scale test runs on KWOK's fake nodes: their taint is tolerated by default here.
        metadata = {"name": name, "annotations": KWOK_NAMESPACE_ANNOTATIONS}
        await self.kube._call("POST", "/api/v1/namespaces", body={"metadata": metadata})
        self.namespaces.append(name)
        return name

    async def delete_namespace(self, name: str) -> None:
        with contextlib.suppress(ApiException):
            await self.kube._call("DELETE", f"/api/v1/namespaces/{name}")

    async def create_ms(self, namespace: str, name: str, i: int) -> None:
        path = f"/apis/shopmesh.io/v1alpha1/namespaces/{namespace}/microservices"
        await self.kube._call("POST", path, body=body(name, namespace, i))

    async def child_present(self, namespace: str, name: str) -> bool:
        # ServiceMonitor is rendered and applied last: present means all are.
        return (
            await self.kube.get("monitoring.coreos.com/v1", "ServiceMonitor", namespace, name)
            is not None
        )

    async def latency(self, namespace: str) -> tuple[list[float], list[float]]:
        operator_ms: list[float] = []
        direct_ms: list[float] = []
        for i in range(LATENCY_N):
            name = f"lat-{i}"
            start = time.perf_counter()
            await self.create_ms(namespace, name, i)
            while not await self.child_present(namespace, name):
                await asyncio.sleep(0.005)
            operator_ms.append((time.perf_counter() - start) * 1000)
        direct_ns = await self.namespace("latdirect")
        for i in range(LATENCY_N):
            start = time.perf_counter()
            for child in rendered(f"lat-{i}", direct_ns, i):
                await self.kube.apply(child)
            direct_ms.append((time.perf_counter() - start) * 1000)
        return operator_ms, direct_ms

    async def count_ready(self, namespace: str) -> int:
        path = f"/apis/shopmesh.io/v1alpha1/namespaces/{namespace}/microservices"
        items = (await self.kube._call("GET", path))["items"]
        return sum(
            1
            for item in items
            if any(
                c.get("type") == "Ready" and c.get("status") == "True"
                for c in item.get("status", {}).get("conditions", [])
            )
        )

    async def count_available(self, namespace: str) -> int:
        path = f"/apis/apps/v1/namespaces/{namespace}/deployments"
        deployments = (await self.kube._call("GET", path))["items"]
        return sum(1 for d in deployments if d.get("status", {}).get("availableReplicas", 0) >= 1)

    async def scale_operator(self, namespace: str) -> float:
        start = time.perf_counter()
        await bounded(SCALE_N, lambda i: self.create_ms(namespace, f"svc-{i}", i))
        while await self.count_ready(namespace) < SCALE_N:
            await asyncio.sleep(1)
        return time.perf_counter() - start

    async def scale_direct(self, namespace: str) -> tuple[float, float]:
        start = time.perf_counter()

        async def apply_all(i: int) -> None:
            for child in rendered(f"svc-{i}", namespace, i):
                await self.kube.apply(child)

        await bounded(SCALE_N, apply_all)
        accepted = time.perf_counter() - start
        while await self.count_available(namespace) < SCALE_N:
            await asyncio.sleep(1)
        return accepted, time.perf_counter() - start

    async def write_counts(self) -> int:
        text = await self.kube_raw("/metrics")
        total = 0
        for line in text.splitlines():
            if not line.startswith("apiserver_request_total{"):
                continue
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            if labels.get("verb") in WRITE_VERBS and labels.get("resource") in OUR_RESOURCES:
                total += int(float(line.rsplit(" ", 1)[1]))
        return total

    async def operator_writes(self) -> int:
        url = f"http://127.0.0.1:{METRICS_PORT}/metrics"
        async with self.kube._conn.session.get(url) as response:
            text = await response.text()
        total = 0
        for line in text.splitlines():
            if line.startswith("shopmesh_operator_api_requests_total{"):
                verb = dict(re.findall(r'(\w+)="([^"]*)"', line)).get("verb")
                if verb != "GET":
                    total += int(float(line.rsplit(" ", 1)[1]))
        return total

    async def kube_raw(self, path: str) -> str:
        conn = self.kube._conn
        async with conn.session.get(conn.server + path, headers=conn.headers()) as response:
            return await response.text()


async def settle(bench: Bench, *, quiet: float = 10, limit: float = 120) -> int:
    """Wait until nothing writes to our kinds for `quiet` seconds; the count then."""
    deadline = time.monotonic() + limit
    last = await bench.write_counts()
    while time.monotonic() < deadline:
        await asyncio.sleep(quiet)
        now = await bench.write_counts()
        if now == last:
            return now
        last = now
    return last


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


async def main() -> None:
    log = REPO / ".shopmesh/logs/operator-bench.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SHOPMESH_NAMESPACES": "bench-*", "SHOPMESH_METRICS_PORT": METRICS_PORT}
    with log.open("ab") as out:
        operator = subprocess.Popen(
            [sys.executable, "-m", "shopmesh_operator"], env=env, stdout=out, stderr=out
        )
    kube = await KubeApi.connect()
    bench = Bench(kube)
    try:
        await asyncio.sleep(3)
        lat_ns = await bench.namespace("latency")
        op_ms, direct_ms = await bench.latency(lat_ns)
        print(f"apply -> all children present, {LATENCY_N} Microservices one after another:")
        for q in (50, 99):
            o, d = pct(op_ms, q), pct(direct_ms, q)
            print(
                f"  p{q}: operator {o:7.1f} ms | direct apply of the same children "
                f"{d:7.1f} ms | ratio {o / d:5.2f}x"
            )

        scale_ns = await bench.namespace("scale")
        op_s = await bench.scale_operator(scale_ns)
        memory = rss_mb(operator.pid)
        direct_ns = await bench.namespace("direct")
        accepted_s, available_s = await bench.scale_direct(direct_ns)
        print(f"{SCALE_N} Microservices at once (concurrency {CONCURRENCY}):")
        print(f"  operator: all Ready in {op_s:6.1f} s")
        print(
            f"  direct:   children accepted in {accepted_s:6.1f} s, "
            f"Deployments Available in {available_s:6.1f} s"
        )
        print(
            f"  ratio operator/direct-available {op_s / available_s:5.2f}x (goal <= 1.5x); "
            f"operator/direct-accepted {op_s / accepted_s:5.2f}x"
        )
        print(
            f"operator resident memory with {SCALE_N + LATENCY_N} Microservices: {memory:6.1f} MB "
            f"({memory / 150:4.2f}x the 150 MB goal)"
        )

        before = await settle(bench)
        ours_before = await bench.operator_writes()
        await asyncio.sleep(IDLE_SECONDS)
        after = await bench.write_counts()
        ours = await bench.operator_writes() - ours_before
        print(
            f"write calls by the operator while idle for {IDLE_SECONDS:.0f} s: {ours} (goal 0); "
            f"writes to its kinds by anyone, per the API server: {after - before}"
        )
        if operator.poll() is not None:
            print("the operator exited during the benchmark; see", log)
    finally:
        operator.terminate()
        operator.wait(timeout=30)
        for ns in bench.namespaces:
            await bench.delete_namespace(ns)
        await kube.close()


if __name__ == "__main__":
    # Turn SIGTERM into SystemExit so the finally block stops the operator and cleans up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    asyncio.run(main())
