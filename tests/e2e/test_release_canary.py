"""Canary releases on real pods, judged by the metrics the stack's Prometheus scraped
from them. The shop's own payments is released while orders flow through the gateway:
a good canary walks every step and is promoted, with the share of requests the
`replicas` router gave it seen in its pods' metrics; a bad one (the provider fails every
charge in the new version's env) is aborted by its analysis within one interval plus a
few seconds, and status names the metric, its value and its threshold. A copy of
payments that nobody calls shows the `istio` router's weights at each step, an operator
restart mid-release that resumes at the same step, a release with no traffic that is
inconclusive (paused, never promoted), and `kubectl shopmesh` steering it. Every order
placed meanwhile finishes, and the shop's invariants hold.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from releases import (
    Orders,
    Released,
    Spec,
    event_times,
    operator_log,
    release_state,
    served_by_track,
    shopmesh,
    var,
    vs_weights,
)
from shop_release import ShopRelease

from kube import get, kubectl, list_items, wait_for

pytestmark = pytest.mark.e2e

#: Long enough for the canary's pods to be reached by the callers' connections (they are
#: retired after 2 s, http1.MAX_AGE_SECONDS) and scraped a few times.
INTERVAL = 20


def canary(steps: list[dict[str, Any]], **more: Any) -> Spec:
    return {"rollout": {"strategy": "Canary", "canary": {"steps": steps, **more}}}


def analysis(min_requests: int = 5) -> dict[str, Any]:
    return {
        "interval": f"{INTERVAL}s",
        "failureLimit": 1,
        "minRequests": min_requests,
        "metrics": [
            {"name": "success-rate", "min": 95},
            {"name": "latency-p99", "maxMs": 3000},
        ],
    }


def wait_step(service: Released, step: int, timeout: float = 120) -> dict[str, Any]:
    return wait_for(
        lambda: (state := release_state(service)) and state.get("step") == step and state,
        what=f"{service.name} at canary step {step + 1}",
        timeout=timeout,
        interval=1,
    )


async def test_a_good_canary_walks_every_step_and_is_promoted(
    shop: ShopRelease, payments: Released
) -> None:
    env = payments.get()["spec"].get("env", [])
    steps = [{"setWeight": 50}, {"analysis": {"measurements": 2}}]
    async with Orders(shop).flowing() as orders:
        payments.patch(
            {
                "env": [*env, var("RELEASE", uuid.uuid4().hex[:6])],
                **canary(steps, trafficRouting="replicas", analysis=analysis()),
            }
        )
        wait_step(payments, 1)  # the canary's pods are up and take their share
        canary_pods = list_items("pods", payments.namespace, "shopmesh.io/track=canary")
        assert any(p["metadata"]["name"].startswith("payments-canary-") for p in canary_pods)
        watched = await asyncio.to_thread(
            shopmesh, "watch", "payments", "-n", payments.namespace, "--timeout", "180", check=False
        )
        status = payments.get()["status"]
        log = operator_log(payments) if watched.returncode else ""
        assert watched.returncode == 0, f"{watched.stdout}{watched.stderr}{status}\n{log}"
        served = served_by_track(payments.namespace, "payments", 60)
    # The replicas router: both tracks served real requests (the Service spread them).
    assert served["canary"] > 0, served
    assert served["stable"] > 0, served
    status = payments.get()["status"]
    assert status["phase"] == "Ready"
    assert "release" not in status["rollout"]
    assert status["rollout"]["history"][-1]["outcome"] == "Released"
    passed = [e["message"] for e in payments.events("AnalysisPassed")]
    assert len(passed) >= 2, passed
    assert "success-rate" in passed[-1], passed
    assert get("deployment", "payments-canary", payments.namespace) is None
    await orders.all_finished()


async def test_a_bad_canary_is_aborted_by_its_analysis(
    shop: ShopRelease, payments: Released
) -> None:
    env = payments.get()["spec"].get("env", [])
    stable_template = get("deployment", "payments", payments.namespace)["spec"]["template"]
    steps = [{"setWeight": 50}, {"analysis": {"measurements": 3}}]
    broken = [*env, {"name": "SHOPMESH_PAYMENTS_ERROR_RATE", "value": "1.0"}]
    async with Orders(shop).flowing() as orders:
        payments.patch(
            {"env": broken, **canary(steps, trafficRouting="replicas", analysis=analysis())}
        )
        watched = await asyncio.to_thread(
            shopmesh, "watch", "payments", "-n", payments.namespace, "--timeout", "180", check=False
        )
    assert watched.returncode == 1, watched.stdout + watched.stderr
    held = payments.get()["status"]["rollout"]["held"]
    assert held["reason"] == "Aborted"
    for part in ("analysis failed: success-rate", "is not >= 95%", "requests"):
        assert part in held["message"], held
    degraded = payments.wait_reason("Degraded", "Aborted", timeout=10)
    assert "success-rate" in degraded["message"]
    # Within one analysis interval (plus a few seconds) of the canary taking traffic.
    (took_traffic,) = event_times(payments, "CanaryStep", "step 2/2: analysis x3")
    (aborted,) = event_times(payments, "Aborted", "analysis failed")
    assert (aborted - took_traffic).total_seconds() <= INTERVAL + 6, (took_traffic, aborted)
    # Every request back on the stable version: no canary pods, the template untouched.
    wait_for(
        lambda: not list_items("pods", payments.namespace, "shopmesh.io/track=canary"),
        what="the canary pods gone",
        timeout=60,
    )
    assert get("deployment", "payments", payments.namespace)["spec"]["template"] == stable_template
    await orders.all_finished()


def test_a_release_without_traffic_is_inconclusive_and_survives_an_operator_restart(
    release_of: Callable[[Spec], Released],
) -> None:
    steps = [
        {"pause": {"duration": "20s"}},
        {"setWeight": 20},
        {"analysis": {"measurements": 1}},
        {"setWeight": 60},
        {"pause": {}},
    ]
    service = release_of(canary(steps, analysis=analysis(min_requests=1)))  # istio routing
    service.wait_serving(service.get()["spec"]["image"])
    service.patch({"env": [*service.get()["spec"].get("env", []), var("RELEASE", "2")]})

    wait_step(service, 0)  # 20 s before the canary gets any traffic
    assert vs_weights(service) == {"stable": 100}
    kubectl(
        "delete", "pod", "-l", "app.kubernetes.io/component=operator",
        "-n", service.namespace, "--wait=false",
    )  # fmt: skip
    wait_step(service, 2, timeout=180)  # the new operator carried on after the pause
    assert vs_weights(service) == {"stable": 80, "canary": 20}
    paused = wait_for(
        lambda: release_state(service).get("paused") == "Inconclusive" and release_state(service),
        what="an inconclusive analysis",
        timeout=INTERVAL * 3 + 30,
        interval=1,
    )
    assert "fewer than minRequests 1" in paused["pauseMessage"], paused
    assert paused["step"] == 2  # not promoted past its analysis
    assert service.get()["status"]["phase"] == "Paused"
    for n in (1, 2, 3):  # every step entered once, the restart notwithstanding
        assert len(event_times(service, "CanaryStep", f"step {n}/5")) == 1, n
    shown = shopmesh("status", service.name, "-n", service.namespace).stdout
    assert "Inconclusive" in shown, shown
    assert "minRequests" in shown, shown

    shopmesh("promote", service.name, "-n", service.namespace)  # past the analysis
    wait_step(service, 4)  # setWeight 60 done, waiting at the last pause
    assert vs_weights(service) == {"stable": 40, "canary": 60}
    shopmesh("promote", service.name, "-n", service.namespace)  # past the last pause
    shopmesh("watch", service.name, "-n", service.namespace, "--timeout", "120")
    assert vs_weights(service) == {"stable": 100}
    assert get("deployment", f"{service.name}-canary", service.namespace) is None
    assert service.get()["status"]["rollout"]["history"][-1]["outcome"] == "Released"
