"""What the release tests share (test_release_rolling.py, test_release_canary.py): one
Microservice of the installed shop and how to read and change it, a second tag of an
image ("version 2"), and a test environment variable that makes a new pod template."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from shop_release import ShopRelease, pod_ready

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
