"""The shop as real pods, installed by `helm install`: every Microservice Ready on the real
node, orders through the gateway's NodePort (confirmed, failed with compensation, replayed
by Idempotency-Key), the read model and the emails, a pod deleted mid-load with no order
lost, Microservices that cannot become ready saying why, `helm upgrade` / `rollback` /
`uninstall`. One release for the module (installing takes a minute); the tests run in file
order and the last one uninstalls it.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from typing import Any

import httpx
import pytest
from invariants import check_eventually
from shop_helpers import MAILDIR, PRODUCTS, wait_finished
from shop_processes import PACKAGES
from shop_release import (
    NODE_NAME,
    Customer,
    ShopRelease,
    eventually,
    off_loop,
    pod_ready,
)
from shop_release import (
    SHOP_STOCK as STOCK,
)

from kube import apply, condition, get, helm, kubectl, list_items, wait_for

pytestmark = pytest.mark.e2e

HPA_LOAD_WORKERS = 16
PROMETHEUS_URL = f"http://127.0.0.1:{os.environ.get('SHOPMESH_PROMETHEUS_PORT', '19090')}"
JAEGER_URL = os.environ.get("SHOPMESH_JAEGER_URL", "http://127.0.0.1:16686")
#: One order's trace crosses these pods (the saga, then the consumers of its events).
TRACED_SERVICES = {"gateway", "orders", "inventory", "payments", "notifications"}
HPA_LOAD_MAX_REQUESTS = 200_000


@pytest.fixture(scope="module")
def release(shop: ShopRelease) -> ShopRelease:
    return shop


def test_every_microservice_is_ready_with_real_pods_on_the_real_node(release: ShopRelease) -> None:
    for service in PACKAGES:
        ms = get("microservice", service, release.namespace)
        assert ms is not None, service
        assert (condition(ms, "Ready") or {}).get("status") == "True", service
        pods = release.pods(service)
        assert pods, f"{service} has no pods"
        for pod in pods:
            assert pod["spec"]["nodeName"] == NODE_NAME, (service, pod["spec"].get("nodeName"))
            assert pod["status"]["phase"] == "Running", (service, pod["status"])
            assert pod_ready(pod), (service, pod["status"])
            image = pod["spec"]["containers"][0]["image"]
            assert image.endswith(f"/{service}:{image.rsplit(':', 1)[1]}"), image
            # The operator's securityContext holds in a real container runtime.
            ctx = {
                **pod["spec"].get("securityContext", {}),
                **pod["spec"]["containers"][0]["securityContext"],
            }
            assert ctx["readOnlyRootFilesystem"] is True
            assert ctx["runAsNonRoot"] is True


def test_the_operator_runs_as_pods_on_the_real_node(release: ShopRelease) -> None:
    pods = list_items("pods", release.namespace, "app.kubernetes.io/component=operator")
    assert len(pods) == 2, [p["metadata"]["name"] for p in pods]
    assert all(pod_ready(p) and p["spec"]["nodeName"] == NODE_NAME for p in pods)
    # The Microservices were reconciled by those pods: nothing else watches this namespace.
    for service in PACKAGES:
        out = kubectl(
            "get",
            "deployment",
            service,
            "-n",
            release.namespace,
            "-o",
            "json",
            "--show-managed-fields",
        ).stdout
        deployment = json.loads(out)
        managers = {m["manager"] for m in deployment["metadata"].get("managedFields", [])}
        assert "shopmesh-operator" in managers, managers


async def test_orders_through_the_gateway_confirm_fail_with_compensation_and_replay(
    release: ShopRelease,
) -> None:
    async with release.gateway_client() as client:
        products = await client.get("/api/products")
        assert products.status_code == 200, products.text
        assert {p["id"] for p in products.json()} >= set(PRODUCTS)
        customer = await Customer.sign_up(client)

        key = str(uuid.uuid4())
        placed = await customer.order([{"product_id": "p1", "quantity": 2}], key=key)
        assert placed.status_code == 202, placed.text
        confirmed = await customer.wait_order(placed.json()["id"])
        assert confirmed["status"] == "CONFIRMED", confirmed
        replay = await customer.order([{"product_id": "p1", "quantity": 2}], key=key)
        assert replay.status_code == 202, replay.text
        assert replay.json()["id"] == confirmed["id"], replay.text

        async with release.admin_client("payments", timeout=10) as payments:
            assert (
                await payments.put("/admin/faults", json={"decline_rate": 1.0})
            ).status_code == 200
            try:
                declined = await customer.order([{"product_id": "p2", "quantity": 1}])
                assert declined.status_code == 202, declined.text
                failed = await customer.wait_order(declined.json()["id"])
            finally:
                await payments.put("/admin/faults", json={"decline_rate": 0.0})
        assert failed["status"] == "FAILED", failed
        assert failed["reason"], failed

        async def composed() -> dict[str, Any] | None:
            answer = await client.get(f"/api/users/{customer.id}/orders", headers=customer.headers)
            body: dict[str, Any] = answer.json()
            statuses = {o["id"]: o["status"] for o in body.get("orders", [])}
            want = {confirmed["id"]: "CONFIRMED", failed["id"]: "FAILED"}
            return body if answer.status_code == 200 and statuses == want else None

        view = await eventually(composed, within=60)
        assert not view.get("degraded"), view

    # Compensation released the declined order's units: nothing stays reserved.
    stocked = {pid: STOCK for pid in PRODUCTS}
    found = await check_eventually(release.shop, stocked=stocked, maildir=MAILDIR)
    assert found["confirmed"] >= 1, found
    assert found["failed"] >= 1, found


async def test_pods_are_scraped_by_prometheus_and_traced_into_the_collector(
    release: ShopRelease,
) -> None:
    """The host's Prometheus finds the pods through Kubernetes service discovery; the pods
    export one trace per order to the host's collector (ci/stack)."""
    namespace = release.namespace
    async with httpx.AsyncClient(base_url=PROMETHEUS_URL, timeout=10, trust_env=False) as prom:

        async def scraped() -> set[str] | None:
            answer = await prom.get(
                "/api/v1/query",
                params={"query": f'up{{job="kubernetes-pods",namespace="{namespace}"}} == 1'},
            )
            found = {r["metric"].get("service", "") for r in answer.json()["data"]["result"]}
            return found if found >= set(PACKAGES) else None

        await eventually(scraped, within=90)

    async with release.gateway_client() as client:
        customer = await Customer.sign_up(client)
        placed, order = await customer.place_and_finish([{"product_id": "p1", "quantity": 1}])
        assert order["status"] == "CONFIRMED", order
        trace_id = placed.headers["x-trace-id"]

    async with httpx.AsyncClient(base_url=JAEGER_URL, timeout=10, trust_env=False) as jaeger:

        async def traced() -> set[str] | None:
            answer = await jaeger.get(f"/api/traces/{trace_id}")
            if answer.status_code != 200:
                return None
            services = {
                process["serviceName"]
                for trace in answer.json().get("data") or []
                for process in trace["processes"].values()
            }
            return services if services >= TRACED_SERVICES else None

        await eventually(traced, within=60)


async def test_deleting_an_orders_pod_mid_load_loses_no_order(release: ShopRelease) -> None:
    accepted: list[str] = []
    async with release.gateway_client() as client:
        customers = [await Customer.sign_up(client) for _ in range(4)]
        victim = release.pods("orders")[0]["metadata"]["name"]

        async def shopper(customer: Customer, count: int) -> None:
            for n in range(count):
                answer = await customer.order([{"product_id": f"p{n % 5 + 1}", "quantity": 1}])
                if answer.status_code == 202:
                    accepted.append(answer.json()["id"])
                await asyncio.sleep(0.05)

        load = asyncio.gather(*(shopper(c, 15) for c in customers))
        await eventually(off_loop(lambda: len(accepted) >= 4), within=60)
        kubectl("delete", "pod", victim, "-n", release.namespace, "--wait=false")
        await load

    assert len(accepted) >= 40, f"only {len(accepted)} of 60 orders were accepted"
    await wait_finished(release.shop, set(accepted), within=180)

    def replaced() -> bool:
        pods = release.pods("orders")
        names = {p["metadata"]["name"] for p in pods}
        return victim not in names and len(pods) == 2 and all(pod_ready(p) for p in pods)

    wait_for(replaced, what="the deleted orders pod replaced by a Ready one", timeout=120)
    stocked = {pid: STOCK for pid in PRODUCTS}
    await check_eventually(release.shop, stocked=stocked, maildir=MAILDIR)


async def test_the_gateway_hpa_adds_a_pod_under_load_and_removes_it_after(
    release: ShopRelease,
) -> None:
    """The operator's HPA scales on real CPU read by metrics-server from the real node."""

    def hpa_replicas() -> tuple[int, int]:
        hpa = get("hpa", "gateway", release.namespace) or {}
        status = hpa.get("status", {})
        return status.get("desiredReplicas", 0), status.get("currentReplicas", 0)

    hpa = get("hpa", "gateway", release.namespace)
    assert hpa is not None
    low = hpa["spec"]["minReplicas"]
    wait_for(lambda: hpa_replicas() == (low, low), what=f"the gateway at {low} pods", timeout=120)

    answers: dict[int, int] = {}
    stop = asyncio.Event()

    async def browse(client: httpx.AsyncClient) -> None:
        # Bounded in count as well as in time (the loop below stops it).
        for _ in range(HPA_LOAD_MAX_REQUESTS // HPA_LOAD_WORKERS):
            if stop.is_set():
                return
            try:
                answer = await client.get("/api/products")
            except httpx.TransportError:
                continue
            answers[answer.status_code] = answers.get(answer.status_code, 0) + 1

    async with release.gateway_client(timeout=10) as client:
        load = asyncio.gather(*(browse(client) for _ in range(HPA_LOAD_WORKERS)))
        try:
            scaled_out = await eventually(
                off_loop(lambda: hpa_replicas()[0] > low or None), within=240
            )
        finally:
            stop.set()
            await load
    assert scaled_out
    # The load was the gateway's to serve: answered or rate-limited, never failed.
    assert answers.get(200, 0) > 0, answers
    assert set(answers) <= {200, 429}, answers

    def back_to_low() -> bool:
        ready = [p for p in release.pods("gateway") if pod_ready(p)]
        return hpa_replicas() == (low, low) and len(release.pods("gateway")) == low == len(ready)

    wait_for(back_to_low, what=f"the gateway back to {low} pods after the load", timeout=240)


BROKEN = [
    pytest.param(
        {"image": "docker.io/shopmesh/does-not-exist:0.0.0"},
        "ImagePullFailed",
        "does-not-exist",
        id="image-missing",
    ),
    pytest.param(
        {"probes": {"readiness": "/no-such-path", "liveness": "/health/live"}},
        "ReadinessProbeFailing",
        "Readiness probe failed",
        id="readiness-never-passes",
    ),
]


@pytest.mark.parametrize(("change", "reason", "in_message"), BROKEN)
def test_a_microservice_that_cannot_become_ready_says_why(
    release: ShopRelease, change: dict[str, Any], reason: str, in_message: str
) -> None:
    payments = get("microservice", "payments", release.namespace)
    assert payments is not None
    before = {
        s: (get("deployment", s, release.namespace) or {})["metadata"]["generation"]
        for s in PACKAGES
    }
    name = f"broken-{uuid.uuid4().hex[:4]}"
    spec = {**payments["spec"], **change, "replicas": 1}
    spec.pop("autoscaling", None)
    apply(
        {
            "apiVersion": "shopmesh.io/v1alpha1",
            "kind": "Microservice",
            "metadata": {"name": name, "namespace": release.namespace},
            "spec": spec,
        }
    )
    try:

        def explained() -> dict[str, Any] | None:
            ready = condition(get("microservice", name, release.namespace), "Ready")
            return ready if ready and ready.get("reason") == reason else None

        ready = wait_for(explained, what=f"Ready=False reason {reason}", timeout=120, interval=1)
        assert ready["status"] == "False", ready
        assert in_message in ready["message"], ready
    finally:
        kubectl("delete", "microservice", name, "-n", release.namespace, "--wait=false")
    # The rest of the shop was not touched.
    after = {
        s: (get("deployment", s, release.namespace) or {})["metadata"]["generation"]
        for s in PACKAGES
    }
    assert after == before


def test_helm_upgrade_rolls_the_changed_service_and_rollback_returns_it(
    release: ShopRelease,
) -> None:
    def payments_env() -> dict[str, str]:
        deployment = get("deployment", "payments", release.namespace) or {}
        env = deployment["spec"]["template"]["spec"]["containers"][0].get("env", [])
        return {e["name"]: e.get("value", "") for e in env}

    def generations() -> dict[str, int]:
        return {
            s: (get("deployment", s, release.namespace) or {})["metadata"]["generation"]
            for s in PACKAGES
        }

    assert "SHOPMESH_PAYMENTS_LATENCY_MS" not in payments_env()
    before = generations()
    env = release.values()["shop"]["services"]["payments"]["env"]
    release.extra_values["shop"]["services"]["payments"] = {
        "env": [*env, {"name": "SHOPMESH_PAYMENTS_LATENCY_MS", "value": "5"}]
    }
    release.helm_with_values("upgrade")
    wait_for(
        lambda: payments_env().get("SHOPMESH_PAYMENTS_LATENCY_MS") == "5",
        what="the payments Deployment to carry the new value",
        timeout=60,
    )
    release.wait_ready()
    changed = {s for s, g in generations().items() if g != before[s]}
    assert changed == {"payments"}, changed

    helm("rollback", release.name, "1", "--namespace", release.namespace, "--wait")
    wait_for(
        lambda: "SHOPMESH_PAYMENTS_LATENCY_MS" not in payments_env(),
        what="the rollback to remove the value again",
        timeout=60,
    )
    release.wait_ready()


def test_helm_uninstall_removes_everything(release: ShopRelease) -> None:
    release.uninstall()

    def gone() -> bool:
        left = [
            kind
            for kind in ("microservices", "deployments", "services", "pods")
            if list_items(kind, release.namespace)
        ]
        return not left

    wait_for(gone, what="every Microservice, Deployment, Service and pod gone", timeout=120)
    kubectl("delete", "namespace", release.namespace, "--timeout=90s")
    assert kubectl("get", "namespace", release.namespace, check=False).returncode != 0
