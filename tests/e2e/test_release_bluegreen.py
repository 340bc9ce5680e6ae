"""BlueGreen releases on real pods. The shop's own payments is released while orders flow
through the gateway: the new version comes up beside the active one behind
`payments-preview` and takes no live traffic; `kubectl shopmesh promote` switches the
`payments` Service's selector to it in one update and live requests reach it; an abort
inside the scale-down delay puts the selector back on the old pods, which never went
away, in seconds. A copy of payments that nobody calls is promoted by itself after
`autoPromotionSeconds` and released: the stable Deployment runs the new template and
the preview pods are gone. Every order placed meanwhile finishes, and the shop's
invariants hold.
"""

from __future__ import annotations

import asyncio
import time
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
    ready_endpoints,
    release_state,
    served_by_track,
    shopmesh,
    var,
)
from shop_release import ShopRelease, pod_ready

from kube import get, list_items, wait_for

pytestmark = pytest.mark.e2e

#: Long enough to see live requests reach the preview after the switch, and to abort.
DELAY = 120


def blue_green(**settings: Any) -> Spec:
    return {"rollout": {"strategy": "BlueGreen", "blueGreen": settings}}


def selector_track(service: Released, name: str | None = None) -> str | None:
    found = get("service", name or service.name, service.namespace)
    assert found is not None, f"Service {name or service.name} is missing"
    return found["spec"]["selector"].get("shopmesh.io/track")


def pods(service: Released, track: str) -> dict[str, str]:
    """The ready pods of `service` on `track`, by name, with their addresses."""
    selector = f"app.kubernetes.io/name={service.name},shopmesh.io/track={track}"
    found = list_items("pods", service.namespace, selector)
    return {
        p["metadata"]["name"]: p["status"]["podIP"]
        for p in found
        if pod_ready(p) and not p["metadata"].get("deletionTimestamp")
    }


def behind(service: Released, name: str, track: str) -> set[str] | None:
    """The addresses behind Service `name` when they are exactly `track`'s ready pods."""
    want = set(pods(service, track).values())
    return want if want and ready_endpoints(service.namespace, name) == want else None


def env_names(deployment: dict[str, Any] | None) -> set[str]:
    assert deployment is not None
    return {e["name"] for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}


async def test_a_blue_green_release_previews_switches_and_aborts_within_its_delay(
    shop: ShopRelease, payments: Released
) -> None:
    env = payments.get()["spec"].get("env", [])
    release = var("RELEASE", uuid.uuid4().hex[:6])
    stable_template = get("deployment", "payments", payments.namespace)["spec"]["template"]
    async with Orders(shop).flowing() as orders:
        payments.patch({"env": [*env, release], **blue_green(scaleDownDelaySeconds=DELAY)})

        # 1. The preview: new pods behind payments-preview, no live traffic.
        paused = wait_for(
            lambda: (s := release_state(payments)).get("paused") == "PauseStep" and s,
            what="payments waiting for promotion",
            timeout=180,
            interval=1,
        )
        assert paused["strategy"] == "BlueGreen"
        assert paused["weight"] == 0
        preview = get("deployment", "payments-preview", payments.namespace)
        assert release["name"] in env_names(preview)
        assert wait_for(
            lambda: behind(payments, "payments-preview", "preview"), what="the preview endpoints"
        )
        assert selector_track(payments) == "stable"
        assert wait_for(lambda: behind(payments, "payments", "stable"), what="active endpoints")
        old_pods = pods(payments, "stable")
        shown = shopmesh("status", "payments", "-n", payments.namespace).stdout
        assert "payments-preview" in shown, shown

        # 2. The switch: one selector update; live requests reach the new pods.
        shopmesh("promote", "payments", "-n", payments.namespace)
        wait_for(
            lambda: selector_track(payments) == "preview",
            what="the payments Service switched to the preview",
            timeout=60,
        )
        assert wait_for(
            lambda: behind(payments, "payments", "preview"), what="the new endpoints", timeout=60
        )
        switched = wait_for(
            lambda: (s := release_state(payments)).get("step") == 3 and s,
            what="the release in its scale-down delay (step 4/4)",
        )
        assert switched["weight"] == 100, switched
        served = await asyncio.to_thread(
            wait_for,
            lambda: (
                (s := served_by_track(payments.namespace, "payments", 60, "preview"))["preview"] > 0
                and s
            ),
            what="live requests served by the preview's pods",
            timeout=90,
            interval=5,
        )
        assert served["preview"] > 0, served
        assert pods(payments, "stable") == old_pods  # the old version is still there

        # 3. Abort within the delay: the old pods take every request again at once.
        aborted_at = time.monotonic()
        shopmesh("abort", "payments", "-n", payments.namespace)
        wait_for(
            lambda: selector_track(payments) == "stable",
            what="the payments Service back on the old pods",
            timeout=30,
            interval=0.2,
        )
        back_in = time.monotonic() - aborted_at
        assert behind(payments, "payments", "stable") == set(old_pods.values())
    held = payments.get()["status"]["rollout"]["held"]
    assert held["reason"] == "Aborted", held
    assert back_in <= 10, f"the selector went back {back_in:.1f} s after the abort"
    assert len(event_times(payments, "Aborted", "kubectl shopmesh abort")) == 1
    # The old pods served throughout: the same pods, the template untouched.
    assert pods(payments, "stable") == old_pods
    assert get("deployment", "payments", payments.namespace)["spec"]["template"] == stable_template
    wait_for(
        lambda: get("deployment", "payments-preview", payments.namespace) is None,
        what="the preview Deployment removed",
        timeout=60,
    )
    await orders.all_finished()


def test_a_blue_green_release_promotes_itself_and_is_released(
    release_of: Callable[[Spec], Released],
) -> None:
    service = release_of(blue_green(autoPromotionSeconds=5, scaleDownDelaySeconds=5))
    service.wait_serving(service.get()["spec"]["image"])
    assert selector_track(service) == "stable"
    assert get("service", f"{service.name}-preview", service.namespace) is not None
    service.patch({"env": [*service.get()["spec"].get("env", []), var("RELEASE", "2")]})

    ns = service.namespace
    watched = shopmesh("watch", service.name, "-n", ns, "--timeout", "180", check=False)
    status = service.get()["status"]
    log = operator_log(service) if watched.returncode else ""
    assert watched.returncode == 0, f"{watched.stdout}{watched.stderr}{status}\n{log}"
    assert status["rollout"]["history"][-1]["outcome"] == "Released", status
    assert "release" not in status["rollout"], status
    for step in ("preview", "auto-promotion after 5s", "switch", "scale-down delay 5s"):
        assert event_times(service, "CanaryStep", step), step
    # The stable Deployment runs the new template; the preview is gone; the Service
    # selects the stable track again.
    assert "SHOPMESH_TEST_RELEASE" in env_names(get("deployment", service.name, service.namespace))
    wait_for(
        lambda: get("deployment", f"{service.name}-preview", service.namespace) is None,
        what="the preview Deployment removed",
        timeout=60,
    )
    assert selector_track(service) == "stable"
    assert wait_for(lambda: behind(service, service.name, "stable"), what="stable endpoints")
