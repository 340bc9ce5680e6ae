"""Helpers for the e2e suites: the project's real kubectl against the local cluster.

The environment (KUBECONFIG, PATH to the project's kubectl) comes from ci/env.sh,
the same exports `eval "$(make -s env)"` gives a user.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")


def load_env() -> dict[str, str]:
    """The exports of ci/env.sh, applied over this process's environment."""
    out = subprocess.run(
        ["bash", str(REPO / "ci/env.sh")], check=True, capture_output=True, text=True
    ).stdout
    env = dict(os.environ)
    for line in out.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        env[key] = value.strip('"').replace("$PATH", os.environ.get("PATH", ""))
    return env


ENV = load_env()


def kubectl(
    *args: str, input: str | None = None, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["kubectl", *args], env=ENV, input=input, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {result.stderr.strip()}")
    return result


# Pods of a namespace with these annotations land only on KWOK's fake nodes, tolerating
# their taint (the API server's PodNodeSelector and PodTolerationRestriction admission):
# for the operator's suites, whose pods need not run. The shop's suites use the real node.
KWOK_NAMESPACE_ANNOTATIONS = {
    "scheduler.alpha.kubernetes.io/node-selector": "type=kwok",
    "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps(
        [{"key": "kwok.x-k8s.io/node", "operator": "Exists", "effect": "NoSchedule"}]
    ),
}


def create_namespace(name: str, *, kwok: bool = True) -> None:
    """A namespace whose pods run on KWOK's fake nodes (kwok=True) or on the real node."""
    metadata: dict[str, Any] = {"name": name}
    if kwok:
        metadata["annotations"] = KWOK_NAMESPACE_ANNOTATIONS
    apply({"apiVersion": "v1", "kind": "Namespace", "metadata": metadata})


def apply(
    manifest: dict[str, Any] | str, *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
    return kubectl("apply", "-f", "-", input=text, check=check)


def get(kind: str, name: str, namespace: str) -> dict[str, Any] | None:
    result = kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    if result.returncode != 0:
        if "NotFound" in result.stderr:
            return None
        raise AssertionError(result.stderr)
    return dict(json.loads(result.stdout))


def list_items(kind: str, namespace: str, selector: str | None = None) -> list[dict[str, Any]]:
    args = ["get", kind, "-n", namespace, "-o", "json"]
    if selector:
        args += ["-l", selector]
    return list(json.loads(kubectl(*args).stdout)["items"])


def wait_for(
    probe: Callable[[], T | None], *, what: str, timeout: float = 60, interval: float = 0.5
) -> T:
    """Poll `probe` until it returns something truthy; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any] | None:
    for cond in (obj or {}).get("status", {}).get("conditions", []) or []:
        if cond.get("type") == type_:
            return dict(cond)
    return None


def events_for(name: str, namespace: str) -> list[dict[str, Any]]:
    items = list_items("events", namespace)
    return [e for e in items if e["involvedObject"].get("name") == name]


def helm(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The project's real helm against the local cluster."""
    result = subprocess.run(
        ["helm", *args], env=ENV, capture_output=True, text=True, timeout=timeout
    )
    if check and result.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed: {result.stderr.strip()}")
    return result
