"""Release benchmark on real pods of the shop, printed as ratios to the analysis interval.

1. Abort: a bad canary of the shop's payments (every charge fails in the new version's
   env) at weight 50 with the `replicas` router, under a bounded load of orders through
   the gateway. Measured from the first moment a canary pod is a ready endpoint of the
   `payments` Service (requests start failing) to the moment none is (100% of requests
   on the stable version), polled every 0.2 s from the EndpointSlices. The analysis
   needs one interval of traffic to judge, so the floor is 1.0x; goal: at most 1.1x.
   The time from the Aborted Event to the last canary endpoint gone is printed too.
2. Operator restart: a copy of payments nobody calls walks setWeight 20, a pause of
   P seconds, setWeight 60 (the `istio` router: VirtualService weights). Both operator
   pods are deleted 2 s before the pause ends; measured is how late the next step
   (weight 60 in the VirtualService) is applied after the pause's end, against the
   analysis interval, and whether every step was entered exactly once.

Run by `make bench-release` (BENCH_RELEASE_INTERVAL, default 60 s; BENCH_RELEASE_PAUSE,
default 30 s): the shop is installed by helm into its own namespace, as the e2e suite
does (tests/e2e/shop_release.py), and deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests/e2e"), str(REPO / "tests/shop")]

from releases import (  # noqa: E402
    Orders,
    Released,
    copy_of_payments,
    event_times,
    ready_endpoints,
    release_state,
    var,
    vs_weights,
)
from shop_release import ShopRelease, pod_ready  # noqa: E402

from kube import kubectl, list_items, wait_for  # noqa: E402

INTERVAL = int(os.environ.get("BENCH_RELEASE_INTERVAL", "60"))
PAUSE = int(os.environ.get("BENCH_RELEASE_PAUSE", "30"))
GOAL_ABORT = 1.1


def canary_addresses(service: Released) -> set[str]:
    """The canary pods' addresses that are ready endpoints of the service."""
    canary = {
        p["status"].get("podIP")
        for p in list_items("pods", service.namespace, "shopmesh.io/track=canary")
        if p["metadata"]["name"].startswith(f"{service.name}-canary-")
    }
    return ready_endpoints(service.namespace, service.name) & canary


def until(probe: Any, what: str, timeout: float) -> float:
    """Poll `probe` every 0.2 s; the wall-clock time it first held."""
    wait_for(probe, what=what, timeout=timeout, interval=0.2)
    return time.time()


async def abort_latency(shop: ShopRelease) -> dict[str, float]:
    payments = Released(shop, "payments")
    before = payments.get()["spec"]
    broken = [*before.get("env", []), {"name": "SHOPMESH_PAYMENTS_ERROR_RATE", "value": "1.0"}]
    analysis = {
        "interval": f"{INTERVAL}s",
        "failureLimit": 1,
        "minRequests": 5,
        "metrics": [{"name": "success-rate", "min": 95}],
    }
    steps = [{"setWeight": 50}, {"analysis": {"measurements": 3}}]
    canary = {"steps": steps, "trafficRouting": "replicas", "analysis": analysis}
    async with Orders(shop).flowing():
        payments.patch({"env": broken, "rollout": {"strategy": "Canary", "canary": canary}})
        started = await asyncio.to_thread(
            until, lambda: canary_addresses(payments), "a canary endpoint", 240
        )
        stable = await asyncio.to_thread(
            until, lambda: not canary_addresses(payments), "no canary endpoint", INTERVAL * 4
        )
    (aborted,) = event_times(payments, "Aborted")
    held = payments.get()["status"]["rollout"]["held"]
    assert held["reason"] == "Aborted", held
    rolling = {"strategy": "Rolling", "canary": None}
    payments.patch({"env": before.get("env", []), "rollout": rolling})
    wait_for(
        lambda: payments.get()["status"].get("phase") == "Ready" and not release_state(payments),
        what="payments back to its own spec",
        timeout=240,
        interval=2,
    )
    return {
        "seconds": stable - started,
        "ratio": (stable - started) / INTERVAL,
        "after_event": stable - aborted.timestamp(),
    }


def restart_lateness(shop: ShopRelease) -> dict[str, float]:
    name = "pay-bench"
    steps = [{"setWeight": 20}, {"pause": {"duration": f"{PAUSE}s"}}, {"setWeight": 60}]
    steps.append({"pause": {}})
    canary = {"rollout": {"strategy": "Canary", "canary": {"steps": steps}}}
    service = copy_of_payments(shop, name, canary)
    spec = service.get()["spec"]
    try:
        service.wait_serving(spec["image"])
        service.patch({"env": [*spec.get("env", []), var("RELEASE", "bench")]})
        paused = wait_for(
            lambda: (s := release_state(service)).get("step") == 1 and s,
            what="the pause step",
            timeout=180,
            interval=0.5,
        )
        ends = _stamp(paused["stepStartedAt"]) + PAUSE
        time.sleep(max(0.0, ends - 2 - time.time()))
        operators = "app.kubernetes.io/component=operator"
        old = {p["metadata"]["name"] for p in list_items("pods", shop.namespace, operators)}
        kubectl("delete", "pod", "-l", operators, "-n", shop.namespace, "--wait=false")
        applied = until(lambda: vs_weights(service).get("canary") == 60, "weight 60", 300)
        entered = [len(event_times(service, "CanaryStep", f"step {n}/4")) for n in (1, 2, 3)]
        # Which operator entered step 3: one of the new pods, or an old one on its way out.
        by = [
            p["metadata"]["name"]
            for p in list_items("pods", shop.namespace, operators)
            if p["metadata"]["name"] not in old
            and f"{name}: CanaryStep: step 3/4"
            in kubectl("logs", p["metadata"]["name"], "-n", shop.namespace, check=False).stdout
        ]
        return {
            "late": applied - ends,
            "ratio": (applied - ends) / INTERVAL,
            "once": entered,
            "new_pod": bool(by),
        }
    finally:
        kubectl("delete", "microservice", name, "-n", shop.namespace, "--wait=false")


def _stamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def main() -> int:
    shop = ShopRelease()
    try:
        shop.install()
        shop.wait_ready()
        for pod in list_items("pods", shop.namespace):
            assert pod_ready(pod) or pod["status"].get("phase") == "Succeeded", pod["metadata"]
        asyncio.run(shop.seed())
        aborted = asyncio.run(abort_latency(shop))
        restarted = restart_lateness(shop)
    finally:
        shop.delete()
    print(f"\nrelease benchmark (analysis interval {INTERVAL}s, pause {PAUSE}s)")
    print(f"{'what':<62} {'measured':>10} {'ratio':>8}")
    print(
        f"{'bad canary: first canary endpoint -> 100% stable':<62} "
        f"{aborted['seconds']:>9.1f}s {aborted['ratio']:>7.2f}x  (goal <= {GOAL_ABORT}x)"
    )
    print(
        f"{'  of which: Aborted Event -> last canary endpoint gone':<62} "
        f"{aborted['after_event']:>9.1f}s {aborted['after_event'] / INTERVAL:>7.2f}x"
    )
    print(
        f"{'operator restart 2 s before a pause ends: next step late by':<62} "
        f"{restarted['late']:>9.1f}s {restarted['ratio']:>7.2f}x  "
        f"(steps entered: {restarted['once']}, each once: {restarted['once'] == [1, 1, 1]}; "
        f"by a new operator pod: {restarted['new_pod']})"
    )
    ok = aborted["ratio"] <= GOAL_ABORT and restarted["once"] == [1, 1, 1]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
