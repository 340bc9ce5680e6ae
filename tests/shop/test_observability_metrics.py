"""The stack's real Prometheus (ci/stack/prometheus.sh, `make stack-up`) scrapes a running
shop and holds what the dashboard and the alerts read: requests of every service, orders
placed (a replayed Idempotency-Key not counted) and finished CONFIRMED and FAILED, the
replay itself, orders' breakers per downstream and the outbox lag; and it has loaded the
shop's alert rules. The shop registers its processes by writing a targets file on start and
removes it on stop, after which Prometheus drops them."""

from __future__ import annotations

import os
import uuid
from typing import Any

import httpx
import pytest
import yaml
from shop_helpers import seed, service_client, sign_up, wait_finished, wait_until
from shop_processes import PACKAGES, REPO

pytestmark = pytest.mark.integration

PROMETHEUS_URL = os.environ.get(
    "SHOPMESH_PROMETHEUS_URL",
    f"http://127.0.0.1:{os.environ.get('SHOPMESH_PROMETHEUS_PORT', '19090')}",
)
RULES = REPO / "manifests/prometheus/rules/shop.rules.yaml"
SCRAPED_WITHIN = 60.0  # seconds; Prometheus re-reads targets and scrapes every 2 s


async def query(expr: str) -> list[dict[str, Any]]:
    """An instant query's result vector."""
    async with httpx.AsyncClient(base_url=PROMETHEUS_URL, timeout=10) as client:
        answer = await client.get("/api/v1/query", params={"query": expr})
    answer.raise_for_status()
    body = answer.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


async def by_label(expr: str, label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in await query(expr)}


async def eventually(expr: str, label: str, expected: dict[str, float]) -> None:
    """Wait until `expr`, keyed by `label`, holds at least `expected` (same values)."""
    seen: dict[str, float] = {}

    async def holds() -> bool:
        nonlocal seen
        seen = await by_label(expr, label)
        return all(seen.get(key) == value for key, value in expected.items())

    try:
        await wait_until(holds, within=SCRAPED_WITHIN)
    except AssertionError:
        raise AssertionError(f"{expr}: {seen}, expected {expected}") from None


async def scraped_shops() -> set[str]:
    async with httpx.AsyncClient(base_url=PROMETHEUS_URL, timeout=10) as client:
        answer = await client.get("/api/v1/targets", params={"state": "active"})
    answer.raise_for_status()
    return {t["labels"].get("shop", "") for t in answer.json()["data"]["activeTargets"]}


async def test_prometheus_scrapes_the_shop_and_loads_the_alerts(make_shop) -> None:  # type: ignore[no-untyped-def]
    shop = await make_shop()
    shop.start()
    assert shop.prometheus_targets.is_file(), "the shop did not register its processes"
    await seed(shop, stock=10)
    [user] = await sign_up(shop, 1)
    orders = [  # three that can be served, one that cannot (out of stock: FAILED)
        [{"product_id": "p1", "quantity": 1}],
        [{"product_id": "p2", "quantity": 2}],
        [{"product_id": "p1", "quantity": 1}, {"product_id": "p3", "quantity": 1}],
        [{"product_id": "p4", "quantity": 50}],
    ]
    keys = [f"metrics-{uuid.uuid4()}" for _ in orders]
    async with service_client(shop, "orders", caller="gateway", timeout=30) as client:
        ids = []
        for key, items in zip(keys, orders, strict=True):
            answer = await client.post(
                "/orders",
                json={"items": items},
                headers={"Idempotency-Key": key, "X-User-Id": user},
            )
            assert answer.status_code == 202, answer.text
            ids.append(answer.json()["id"])
        again = await client.post(  # the first request again: replayed, not placed
            "/orders",
            json={"items": orders[0]},
            headers={"Idempotency-Key": keys[0], "X-User-Id": user},
        )
        assert again.json()["id"] == ids[0]
    statuses = await wait_finished(shop, set(ids))
    assert sorted(statuses[i] for i in ids) == ["CONFIRMED", "CONFIRMED", "CONFIRMED", "FAILED"]

    mine = f'shop="{shop.run_id}"'
    await eventually(
        f"count by (service) (shopmesh_http_requests_total{{{mine}}}) > bool 0",
        "service",
        dict.fromkeys(PACKAGES, 1.0),
    )
    await eventually(
        f"sum by (status) (shopmesh_orders_finished_total{{{mine}}})",
        "status",
        {"CONFIRMED": 3.0, "FAILED": 1.0},
    )
    await eventually(
        f"sum by (service) (shopmesh_orders_placed_total{{{mine}}})", "service", {"orders": 4.0}
    )
    await eventually(
        f"sum by (service) (shopmesh_idempotent_replays_total{{{mine}}})",
        "service",
        {"orders": 1.0},
    )
    await eventually(
        f'shopmesh_breaker_state{{{mine}, service="orders"}}',
        "downstream",
        {"inventory": 0.0, "payments": 0.0},  # 0: closed
    )
    await eventually(  # one observation per published event
        f"sum by (service) (shopmesh_outbox_lag_seconds_count{{{mine}}})",
        "service",
        {"orders": 8.0, "users": 1.0},  # 4 order.placed, 3 .confirmed, 1 .failed; 1 user
    )

    async with httpx.AsyncClient(base_url=PROMETHEUS_URL, timeout=10) as client:
        answer = await client.get("/api/v1/rules", params={"type": "alert"})
    answer.raise_for_status()
    loaded = {
        rule["name"]: rule["health"]
        for group in answer.json()["data"]["groups"]
        for rule in group["rules"]
    }
    expected = {
        rule["alert"]
        for group in yaml.safe_load(RULES.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    }
    assert expected, "no alerts in the rules file"
    assert expected <= loaded.keys(), f"alerts not loaded: {expected - loaded.keys()}"
    assert all(loaded[name] != "err" for name in expected), loaded

    shop.stop()
    assert not shop.prometheus_targets.exists()

    async def forgotten() -> bool:
        return shop.run_id not in await scraped_shops()

    await wait_until(forgotten, within=SCRAPED_WITHIN)
