"""What the release tests share (test_release_rolling.py, test_release_canary.py,
test_release_bluegreen.py): one Microservice of the installed shop and how to read and
change it, a second tag of an image ("version 2"), a test environment variable that
makes a new pod template, a bounded load of orders through the gateway, the release
state and Events, and `kubectl shopmesh`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import httpx
from invariants import check_eventually
from shop_helpers import MAILDIR, PRODUCTS, wait_finished
from shop_release import SHOP_STOCK, Customer, ShopRelease, eventually, off_loop, pod_ready

from kube import ENV, REPO, condition, events_for, get, kubectl, list_items, wait_for

Spec = dict[str, Any]


def _image(deployment: dict[str, Any] | None) -> str:
    return str((deployment or {})["spec"]["template"]["spec"]["containers"][0]["image"])


class Released:
    """One Microservice of this test and how to read it."""

    def __init__(self, shop: ShopRelease, name: str) -> None:
        self.shop, self.name = shop, name

    @property
    def namespace(self) -> str:
        return self.shop.namespace

    def get(self) -> dict[str, Any]:
        found = get("microservice", self.name, self.namespace)
        assert found is not None, f"Microservice {self.name} is gone"
        return found

    def deployment_image(self) -> str:
        return _image(get("deployment", self.name, self.namespace))

    def patch(self, spec: Spec) -> None:
        kubectl(
            "patch", "microservice", self.name, "-n", self.namespace,
            "--type=merge", "-p", json.dumps({"spec": spec}),
        )  # fmt: skip

    def reason(self, type_: str) -> str | None:
        found = condition(self.get(), type_)
        return found.get("reason") if found else None

    def wait_reason(self, type_: str, reason: str, timeout: float = 120) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            found = condition(self.get(), type_)
            return found if found and found.get("reason") == reason else None

        return wait_for(reached, what=f"{self.name} {type_} reason {reason}", timeout=timeout)

    def wait_serving(self, image: str, timeout: float = 180) -> None:
        """Every pod of it ready and running `image`, and the Microservice Ready."""

        def serving() -> bool:
            pods = list_items("pods", self.namespace, f"app.kubernetes.io/name={self.name}")
            images = {p["spec"]["containers"][0]["image"] for p in pods}
            ready = (condition(self.get(), "Ready") or {}).get("status") == "True"
            return bool(pods) and images == {image} and all(map(pod_ready, pods)) and ready

        wait_for(serving, what=f"{self.name} serving {image} only", timeout=timeout, interval=1)

    def events(self, reason: str) -> list[dict[str, Any]]:
        return [e for e in events_for(self.name, self.namespace) if e["reason"] == reason]


def copy_of_payments(shop: ShopRelease, name: str, change: Spec) -> Released:
    """A copy of the shop's payments named `name` (one replica, no HPA) with `change`
    over its spec: a release nobody calls."""
    payments = get("microservice", "payments", shop.namespace)
    assert payments is not None
    spec = {**payments["spec"], "replicas": 1, **change}
    spec.pop("autoscaling", None)
    manifest = {
        "apiVersion": "shopmesh.io/v1alpha1",
        "kind": "Microservice",
        "metadata": {"name": name, "namespace": shop.namespace},
        "spec": spec,
    }
    kubectl("apply", "-f", "-", input=json.dumps(manifest))
    return Released(shop, name)


def second_tag(image: str) -> str:
    """The same build under a second tag in the node's containerd: a "version 2"."""
    name = image.rsplit("/", 1)[-1].split(":")[0]
    tag = image.rsplit(":", 1)[1] + "-v2"
    subprocess.run(
        ["bash", str(REPO / "ci/images/import.sh"), "--tag", tag, name], check=True, env=ENV
    )
    return image.rsplit(":", 1)[0] + ":" + tag


def var(name: str, value: str) -> dict[str, str]:
    return {"name": f"SHOPMESH_TEST_{name}", "value": value}


def ready_endpoints(namespace: str, service: str) -> set[str]:
    """The ready addresses behind Service `service`, from its EndpointSlices."""
    slices = list_items("endpointslices", namespace, f"kubernetes.io/service-name={service}")
    return {
        address
        for s in slices
        for e in s.get("endpoints") or []
        if (e.get("conditions") or {}).get("ready")
        for address in e["addresses"]
    }


def vs_weights(service: Released) -> dict[str, int]:
    """The weights of the service's VirtualService route, by subset ("-": the host)."""
    vs = get("virtualservice", service.name, service.namespace)
    assert vs is not None
    routes = vs["spec"]["http"][0]["route"]
    return {r["destination"].get("subset", "-"): r["weight"] for r in routes}


def release_state(service: Released) -> dict[str, Any]:
    return dict(service.get().get("status", {}).get("rollout", {}).get("release") or {})


def event_times(service: Released, reason: str, contains: str = "") -> list[datetime]:
    return [
        datetime.fromisoformat((e.get("lastTimestamp") or e["eventTime"]).replace("Z", "+00:00"))
        for e in service.events(reason)
        if contains in e.get("message", "")
    ]


PROMETHEUS_URL = f"http://127.0.0.1:{os.environ.get('SHOPMESH_PROMETHEUS_PORT', '19090')}"


def served_by_track(
    namespace: str, name: str, seconds: int, new: str = "canary"
) -> dict[str, float]:
    """Requests the pods of each track (`new`: canary or preview; stable) served in the
    last `seconds`, per the stack's Prometheus."""
    query = (
        f'sum by (pod) (increase(shopmesh_http_requests_total{{namespace="{namespace}",'
        f'service="{name}",route!~"/health.*|/metrics"}}[{seconds}s]))'
    )
    answer = httpx.get(
        f"{PROMETHEUS_URL}/api/v1/query", params={"query": query}, timeout=10, trust_env=False
    )
    answer.raise_for_status()
    served = {new: 0.0, "stable": 0.0}
    for sample in answer.json()["data"]["result"]:
        track = new if sample["metric"]["pod"].startswith(f"{name}-{new}-") else "stable"
        served[track] += float(sample["value"][1])
    return served


def shopmesh(*args: str, check: bool = True) -> Any:
    return kubectl("shopmesh", *args, check=check, timeout=240)


class Orders:
    """A bounded load of orders through the gateway, until stopped."""

    def __init__(self, shop: ShopRelease) -> None:
        self.shop, self.accepted, self.stop = shop, [], asyncio.Event()

    @asynccontextmanager
    async def flowing(self) -> AsyncIterator[Orders]:
        async with self.shop.gateway_client() as client:
            customers = [await Customer.sign_up(client) for _ in range(4)]
            load = asyncio.gather(*(self.shopper(c) for c in customers))
            try:
                await eventually(off_loop(lambda: len(self.accepted) >= 3), within=60)
                yield self
            finally:
                self.stop.set()
                await load

    async def shopper(self, customer: Customer) -> None:
        for n in range(400):  # bounded: at most 400 orders each
            if self.stop.is_set():
                return
            answer = await customer.order([{"product_id": f"p{n % 5 + 1}", "quantity": 1}])
            if answer.status_code == 429:  # the gateway's limits: wait as told, at most 4 s
                # (below uvicorn's 5 s keep-alive: a connection reused just as the server
                # closes it fails with a ReadError)
                await asyncio.sleep(min(float(answer.headers.get("Retry-After", "1")), 4))
                continue
            assert answer.status_code == 202, answer.text
            self.accepted.append(answer.json()["id"])
            # Pacing: one order per customer per second keeps the four of them inside the
            # gateway's limits (100 a minute per user, 300 per address).
            await asyncio.sleep(1)

    async def all_finished(self) -> None:
        assert len(self.accepted) >= 6, f"only {len(self.accepted)} orders were placed"
        await wait_finished(self.shop.shop, set(self.accepted), within=180)
        stocked = {pid: SHOP_STOCK for pid in PRODUCTS}
        await check_eventually(self.shop.shop, stocked=stocked, maildir=MAILDIR)


def operator_log(service: Released) -> str:
    """The operator's last words, for a failure message."""
    return str(
        kubectl(
            "logs", "-l", "app.kubernetes.io/component=operator", "-n", service.namespace,
            "--tail=40", "--prefix", check=False,
        ).stdout
    )  # fmt: skip
