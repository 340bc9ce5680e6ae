"""The images ci/images/build.sh built, run with podman as the cluster runs them: a non-root
UID (65532, what the chart and the operator's pods use, and another one), a read-only root
filesystem and a tmpfs at /tmp, no network. Each service must get as far as its database
(refused: there is none), the operator as far as logging in to a cluster, the pause image
must stop on SIGTERM. Skipped for images that are not built (`make images`); needs root."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

LIB = Path(__file__).resolve().parents[1] / "lib.sh"
UIDS = [65532, 10001]


def bash(script: str) -> str:
    done = subprocess.run(
        ["bash", "-c", f"source {LIB}; {script}"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


if os.geteuid() != 0 or not (shutil.which("podman") and shutil.which("buildah")):
    pytest.skip("needs root, podman and buildah", allow_module_level=True)
CONTAINERS_CONF = bash('use_containers_conf; echo "$CONTAINERS_CONF"')
APPS = bash('echo "${APP_IMAGES[@]}"').split()
SERVICES = [name for name in APPS if name != "operator"]


def ref(name: str) -> str:
    return bash(f"image_ref {name}")


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", *args],
        env={**os.environ, "CONTAINERS_CONF": CONTAINERS_CONF},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def built(name: str) -> str:
    image = ref(name)
    if podman("image", "exists", image).returncode != 0:
        pytest.skip(f"{image} is not built: ci/images/build.sh {name}")
    return image


# As the pods run; --timeout: podman kills the container itself, so none outlives a test.
LOCKED_DOWN = ["--read-only", "--tmpfs", "/tmp", "--network", "none", "--timeout", "60"]


def run(
    image: str, *command: str, uid: int = 65532, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    flags = [f"--env={key}={value}" for key, value in (env or {}).items()]
    return podman("run", "--rm", "--user", f"{uid}:{uid}", *LOCKED_DOWN, *flags, image, *command)


def module(name: str) -> str:
    return f"shopmesh_{name.replace('-', '_')}"


@pytest.mark.parametrize("uid", UIDS)
@pytest.mark.parametrize("name", APPS)
def test_imports_as_non_root_on_a_read_only_root(name: str, uid: int) -> None:
    entry = "shopmesh_operator.__main__" if name == "operator" else f"{module(name)}.main"
    done = run(built(name), "python", "-c", f"import {entry}, sys; print(sys.prefix)", uid=uid)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "/app/.venv"


@pytest.mark.parametrize("name", SERVICES)
def test_a_service_starts_until_its_database_refuses(name: str) -> None:
    # No waiting for a database that will never come (SHOPMESH_STARTUP_WAIT_SECONDS).
    done = run(built(name), uid=10001, env={"SHOPMESH_STARTUP_WAIT_SECONDS": "0"})
    records = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    errors = [r["message"] for r in records if r.get("level") == "error"]
    assert done.returncode == 3, done.stdout + done.stderr  # uvicorn: startup failed
    assert any(r["message"] == "Waiting for application startup." for r in records)
    assert errors
    assert "asyncpg" in errors[0]
    assert errors[0].rstrip().splitlines()[-1].startswith("ConnectionRefusedError")


def test_the_operator_starts_until_it_needs_a_cluster() -> None:
    # kopf keeps retrying its login, so the operator does not exit: read its log until the
    # login fails, then stop it.
    name = f"shopmesh-image-test-{os.getpid()}"
    command = ["podman", "run", "--rm", "--name", name, "--user", "65532:65532", *LOCKED_DOWN]
    env = {**os.environ, "CONTAINERS_CONF": CONTAINERS_CONF}
    with subprocess.Popen(
        [*command, built("operator"), "python", "-m", "shopmesh_operator"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as operator:
        assert operator.stderr is not None
        log = []
        try:
            for line in operator.stderr:
                log.append(line)
                if "LoginError: " in line:
                    break
        finally:
            podman("kill", name)
    assert "LoginError: no in-cluster service account and no KUBECONFIG" in "".join(log)


@pytest.mark.parametrize("name", APPS)
def test_image_config(name: str) -> None:
    config = json.loads(podman("image", "inspect", built(name)).stdout)[0]["Config"]
    assert config["User"] == "65532:65532"
    assert "8080/tcp" in config["ExposedPorts"]
    assert "PYTHONDONTWRITEBYTECODE=1" in config["Env"]
    assert f"SHOPMESH_SERVICE={name}" in config["Env"]
    assert config["Cmd"] == ["shopmesh-start"]


def test_pause_stops_on_sigterm() -> None:
    image = built("pause")
    started = podman("run", "--detach", "--network", "none", "--timeout", "60", image)
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    begin = time.monotonic()
    stopped = podman("stop", "--time", "20", container)
    took = time.monotonic() - begin
    status = podman("inspect", "--format", "{{.State.ExitCode}}", container)
    podman("rm", "--force", container)
    assert stopped.returncode == 0, stopped.stderr
    assert status.stdout.strip() == "0"  # exited by itself, not killed after the grace period
    assert took < 20
