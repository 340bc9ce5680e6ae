"""The shop installed by `helm install` as real pods on the local cluster's real node.

`ShopRelease` installs charts/shopmesh (the operator as pods, the seven Microservices) into a
fresh namespace with `infra.mode=external` against the host's stack (make stack-up), with a
fresh database per service, its own events exchange and queues (a `tests/shop` `Shop`
record, so the shop invariants of tests/shop/invariants.py read the same databases), and
reaches the gateway through its NodePort on 127.0.0.1. With `bundled=True` it installs
`infra.mode=bundled` instead: the chart runs the servers in the namespace, nothing is
created on the host's stack. Used by tests/e2e/test_shop_*.py.
"""

from __future__ import annotations

import asyncio
import base64
import random
import tempfile
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import yaml
from shop_helpers import PRODUCTS, ServiceTokenAuth, delete_queues
from shop_processes import PACKAGES, Shop

from kube import REPO, condition, create_namespace, helm, kubectl, list_items, wait_for
from shopmesh_common.service_auth import HS256TokenSource

CHART = REPO / "charts" / "shopmesh"
EXTERNAL_VALUES = CHART / "ci" / "shop-external-values.yaml"
BUNDLED_VALUES = CHART / "ci" / "shop-bundled-values.yaml"
NODE_NAME = "shopmesh-node"
CONSUMERS = ("notifications", "order-history")
#: Stock of every product in the installed shop: enough for every test's orders.
SHOP_STOCK = 1_000


def pod_ready(pod: dict[str, Any]) -> bool:
    return bool((condition(pod, "Ready") or {}).get("status") == "True")


@dataclass
class ShopRelease:
    """One helm release of the shop and what the tests need to talk to it."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    node_port: int = field(default_factory=lambda: random.randint(30100, 32700))
    extra_values: dict[str, Any] = field(default_factory=dict)
    bundled: bool = False
    shop: Shop = field(init=False)

    def __post_init__(self) -> None:
        self.shop = Shop(run_id=self.run_id)

    @property
    def name(self) -> str:
        return f"shop-{self.run_id}"

    @property
    def namespace(self) -> str:
        return f"shop-{self.run_id}"

    @property
    def gateway_url(self) -> str:
        return f"http://127.0.0.1:{self.node_port}"

    def values(self) -> dict[str, Any]:
        """This run's values over ci/shop-external-values.yaml: its own operator scope and
        peering, NodePort, databases, exchange and queues."""
        services: dict[str, Any] = {}
        for service in () if self.bundled else PACKAGES:
            env = [
                {"name": "SHOPMESH_DATABASE", "value": self.shop.databases[service]},
                {"name": "SHOPMESH_EVENTS_EXCHANGE", "value": self.shop.exchange},
            ]
            if service in CONSUMERS:
                env.append({"name": "SHOPMESH_QUEUE", "value": self.shop.queue(service)})
            services[service] = {"env": env}
        values: dict[str, Any] = {
            "watchNamespaces": [self.namespace],
            "peering": {"name": self.namespace},
            "gateway": {"nodePort": {"enabled": True, "port": self.node_port}},
            "shop": {"enabled": True, "services": services},
        }
        return _merge(values, self.extra_values)

    def install(self) -> None:
        create_namespace(self.namespace, kwok=False)
        if not self.bundled:
            asyncio.run(self.shop.create_databases())
        self.helm_with_values("install")

    def helm_with_values(self, verb: str, *args: str) -> None:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as values:
            yaml.safe_dump(self.values(), values)
            values.flush()
            helm(
                verb,
                self.name,
                str(CHART),
                "--namespace",
                self.namespace,
                "-f",
                str(BUNDLED_VALUES if self.bundled else EXTERNAL_VALUES),
                "-f",
                values.name,
                "--wait",
                "--timeout",
                "5m",
                *args,
                timeout=400,
            )

    def wait_ready(self, timeout: float = 300) -> None:
        """Every Microservice Ready, every pod of theirs Running and Ready on the real node."""

        def all_ready() -> list[str] | None:
            items = list_items("microservices", self.namespace)
            ready = [m["metadata"]["name"] for m in items if _is_true(m, "Ready")]
            return ready if len(ready) == len(PACKAGES) else None

        wait_for(all_ready, what="every Microservice Ready", timeout=timeout, interval=2)
        # Ready pods are not yet a reachable NodePort: kube-proxy programs it on its own time.
        wait_for(self._gateway_answers, what="the gateway on its NodePort", timeout=120)

    def _gateway_answers(self) -> bool:
        try:
            answer = httpx.get(f"{self.gateway_url}/health/ready", timeout=2, trust_env=False)
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    async def seed(self) -> None:
        """Every product, `SHOP_STOCK` of each."""
        async with self.admin_client("inventory", timeout=30) as client:
            for pid, (name, price) in PRODUCTS.items():
                answer = await client.post(
                    "/admin/products",
                    json={"id": pid, "name": name, "price_cents": price, "stock": SHOP_STOCK},
                )
                assert answer.status_code in (200, 201), answer.text

    def pods(self, service: str) -> list[dict[str, Any]]:
        return list_items("pods", self.namespace, f"app.kubernetes.io/name={service}")

    def uninstall(self) -> None:
        helm("uninstall", self.name, "--namespace", self.namespace, "--wait", check=False)

    def delete(self) -> None:
        self.uninstall()
        kubectl("delete", "namespace", self.namespace, "--wait=false", check=False)
        if not self.bundled:
            asyncio.run(_cleanup(self.shop))

    def secret_value(self, key: str) -> str:
        """The value of `key` in whichever of the release's Secrets holds it."""
        for secret in list_items("secrets", self.namespace):
            data = secret.get("data") or {}
            if key in data:
                return base64.b64decode(data[key]).decode()
        raise AssertionError(f"no Secret in {self.namespace} has the key {key}")

    def service_url(self, service: str) -> str:
        """A Ready pod of the service, by its pod IP (the host routes to the pod network).
        Not the ClusterIP: a pod Ready now is reachable now, while a Service's rules wait
        for kube-proxy's next sync."""
        pods = [p for p in self.pods(service) if pod_ready(p)]
        assert pods, f"no Ready pod of {service}"
        return f"http://{pods[0]['status']['podIP']}:8080"

    def gateway_client(self, timeout: float = 30) -> httpx.AsyncClient:
        """A client of the gateway's NodePort, as a customer outside the cluster."""
        return httpx.AsyncClient(base_url=self.gateway_url, timeout=timeout, trust_env=False)

    def admin_client(self, service: str, **kwargs: Any) -> httpx.AsyncClient:
        """A client of an internal service presenting service tokens as `admin`."""
        secret = self.secret_value("service-token-secret")
        source = HS256TokenSource(secret.encode(), caller="admin")
        return httpx.AsyncClient(
            base_url=self.service_url(service),
            auth=ServiceTokenAuth(source, service),
            trust_env=False,
            **kwargs,
        )


def _is_true(obj: dict[str, Any], type_: str) -> bool:
    return bool((condition(obj, type_) or {}).get("status") == "True")


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


async def _cleanup(shop: Shop) -> None:
    await delete_queues(shop)
    await shop.drop_databases()


class Customer:
    """A signed-up, logged-in customer talking to the gateway."""

    def __init__(self, client: httpx.AsyncClient, user_id: str, token: str) -> None:
        self.client = client
        self.id = user_id
        self.headers = {"Authorization": f"Bearer {token}"}

    @classmethod
    async def sign_up(cls, client: httpx.AsyncClient) -> Customer:
        email = f"c-{uuid.uuid4().hex[:10]}@example.com"
        body = {"email": email, "password": "correct horse battery", "name": "Pod Customer"}
        created = await client.post("/api/auth/signup", json=body)
        assert created.status_code == 201, created.text
        login = await client.post(
            "/api/auth/login", json={"email": email, "password": body["password"]}
        )
        assert login.status_code == 200, login.text
        return cls(client, created.json()["id"], login.json()["access_token"])

    async def order(self, items: list[dict[str, Any]], key: str | None = None) -> httpx.Response:
        headers = {**self.headers, "Idempotency-Key": key or str(uuid.uuid4())}
        return await self.client.post("/api/orders", json={"items": items}, headers=headers)

    async def place_and_finish(
        self, items: list[dict[str, Any]]
    ) -> tuple[httpx.Response, dict[str, Any]]:
        """Place an order (accepted: 202) and wait until it is CONFIRMED or FAILED."""
        placed = await self.order(items)
        assert placed.status_code == 202, placed.text
        return placed, await self.wait_order(placed.json()["id"])

    async def wait_order(self, order_id: str, within: float = 90) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            answer = await self.client.get(f"/api/orders/{order_id}", headers=self.headers)
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            if body["status"] in ("CONFIRMED", "FAILED"):
                return body
            assert asyncio.get_running_loop().time() < deadline, f"order still {body['status']}"
            await asyncio.sleep(0.5)


def off_loop(probe: Any) -> Any:
    """A blocking probe (kubectl, a list) run off the event loop, for `eventually`."""

    async def run() -> Any:
        return await asyncio.to_thread(probe)

    return run


async def eventually(probe: Any, within: float) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        found = await probe()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.5)
