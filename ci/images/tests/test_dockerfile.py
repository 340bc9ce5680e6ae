"""The one Dockerfile, its start command (ci/images/start.sh) and the build scripts' helpers,
checked offline: what would break the published build (python:3.11-slim, Docker), the local
one (our base, buildah) or the pods (UID, read-only root) without a build noticing at once.
The built images themselves are checked by test_built_images.py."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DOCKERFILE = (REPO / "Dockerfile").read_text()
START = REPO / "ci" / "images" / "start.sh"
LIB = REPO / "ci" / "images" / "lib.sh"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in DOCKERFILE.splitlines() if not line.lstrip().startswith("#")),
    )
    pairs = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), " ".join(rest.split())))
    return pairs


def final_stage() -> list[tuple[str, str]]:
    pairs = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(pairs) if keyword == "FROM")
    return pairs[last_from:]


def bash(script: str, **env: str) -> str:
    return subprocess.run(
        ["bash", "-c", f"source {LIB}; {script}"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def app_images() -> list[str]:
    return bash('echo "${APP_IMAGES[@]}"').split()


def test_the_published_build_starts_from_python_slim() -> None:
    assert ("ARG", "BASE_IMAGE=python:3.11-slim") in instructions()


def test_every_stage_starts_from_the_base_image() -> None:
    # Another FROM would make the local build pull from a registry.
    froms = [args for keyword, args in instructions() if keyword == "FROM"]
    assert froms
    assert all(args.split()[0] == "${BASE_IMAGE}" for args in froms)


def test_the_image_runs_as_the_charts_non_root_user() -> None:
    values = yaml.safe_load((REPO / "charts" / "shopmesh" / "values.yaml").read_text())
    uid = values["securityContext"]["runAsUser"]
    users = [args for keyword, args in final_stage() if keyword == "USER"]
    assert users == [f"{uid}:{uid}"]
    assert uid == 65532


def test_dependencies_are_a_layer_of_their_own_from_the_lock() -> None:
    steps = final_stage()
    syncs = [i for i, (_, args) in enumerate(steps) if "uv sync" in args]
    assert len(syncs) == 1
    sync = steps[syncs[0]][1]
    assert "--frozen" in sync
    assert "--no-dev" in sync
    # Only the manifests come before the dependency layer, the sources after it, so a
    # change to the sources keeps it.
    assert steps[syncs[0] - 1] == ("COPY", "--from=workspace /manifests/ /app/")
    assert steps.index(("COPY", "--from=workspace /member/ /app/")) > syncs[0]
    assert [args for keyword, args in steps[: syncs[0]] if keyword == "COPY"] == [
        "--from=workspace /manifests/ /app/"
    ]


def test_uv_is_never_part_of_the_image() -> None:
    sync = next(args for _, args in final_stage() if "uv sync" in args)
    assert "python3 -m venv /tmp/uv" in sync
    assert sync.endswith("&& rm -rf /tmp/uv /tmp/uv-*.lock")


def test_uv_is_the_version_the_makefile_pins() -> None:
    pinned = re.search(r"^UV_VERSION := (\S+)$", (REPO / "Makefile").read_text(), re.M)
    assert pinned is not None
    assert re.findall(r"uv==([0-9.]+)", DOCKERFILE) == [pinned.group(1)]


def test_nothing_written_at_runtime() -> None:
    env = " ".join(args for keyword, args in final_stage() if keyword == "ENV")
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert ("EXPOSE", "8080") in final_stage()


def test_the_images_are_the_workspace_members() -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert root["tool"]["uv"]["workspace"]["members"] == ["operator", "services/*"]
    services = {p.parent.name for p in (REPO / "services").glob("*/pyproject.toml")}
    assert sorted(app_images()) == sorted({"operator"} | services - {"common"})


FAKE = """#!/bin/sh
python3 -c 'import json, os, sys; print(json.dumps({"argv": [os.path.basename(sys.argv[1])] + \
sys.argv[2:], "token": os.environ.get("SHOPMESH_REQUIRE_SERVICE_TOKEN")}))' "$0" "$@"
"""


def uvicorn(module: str, *extra: str) -> list[str]:
    serve = ["--host", "0.0.0.0", "--port", "8080"]
    return ["uvicorn", "--factory", f"{module}.main:create_app", *serve, *extra]


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    """`uvicorn` and `python` that print what they were started with."""
    for name in ("uvicorn", "python"):
        (tmp_path / name).write_text(FAKE)
        (tmp_path / name).chmod(0o755)
    return tmp_path


def start(fake_bin: Path, service: str, *args: str, **env: str) -> dict[str, object]:
    path = f"{fake_bin}:/usr/bin:/bin"
    done = subprocess.run(
        ["sh", str(START), *args],
        env={"PATH": path, "SHOPMESH_SERVICE": service, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    started: dict[str, object] = json.loads(done.stdout)
    return started


@pytest.mark.parametrize(
    ("service", "args", "env", "argv", "token"),
    [
        pytest.param(
            "operator", (), {}, ["python", "-m", "shopmesh_operator"], None, id="operator"
        ),
        pytest.param("orders", (), {}, uvicorn("shopmesh_orders"), None, id="service"),
        pytest.param(
            "order-history",
            (),
            {},
            uvicorn("shopmesh_order_history"),
            None,
            id="dash-to-underscore",
        ),
        pytest.param(
            "gateway", (), {}, uvicorn("shopmesh_gateway", "--proxy-headers"), "false", id="edge"
        ),
        pytest.param(
            "gateway",
            (),
            {"SHOPMESH_REQUIRE_SERVICE_TOKEN": "true"},
            uvicorn("shopmesh_gateway", "--proxy-headers"),
            "true",
            id="edge-env-wins",
        ),
        pytest.param(
            "users",
            ("--reload",),
            {},
            uvicorn("shopmesh_users", "--reload"),
            None,
            id="args-passed",
        ),
    ],
)
def test_start_command(
    fake_bin: Path,
    service: str,
    args: tuple[str, ...],
    env: dict[str, str],
    argv: list[str],
    token: str | None,
) -> None:
    assert start(fake_bin, service, *args, **env) == {"argv": argv, "token": token}


@pytest.mark.parametrize("service", [s for s in app_images() if s != "operator"])
def test_every_service_has_the_factory_start_runs(service: str) -> None:
    module = f"shopmesh_{service.replace('-', '_')}"
    main = REPO / "services" / service / "src" / module / "main.py"
    functions = {
        node.name
        for node in ast.walk(ast.parse(main.read_text()))
        if isinstance(node, ast.FunctionDef)
    }
    assert "create_app" in functions


ONE_LINE = "deb [arch=amd64 signed-by=/k.gpg] http://one.example/debian bookworm main\n"
DEB822 = """\
Types: deb
URIs: http://security.example/debian-security
Suites: bookworm-security
Components: main

Types: deb-src
URIs: http://source.example/debian
Suites: bookworm

Enabled: no
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm

# the mirror
Types: deb
URIs: http://mirror.example/debian http://second.example/debian
Suites: bookworm bookworm-updates
Components: main
"""


@pytest.mark.parametrize(
    ("files", "mirror"),
    [
        pytest.param(
            {"sources.list.d/debian.sources": DEB822}, "http://mirror.example/debian", id="deb822"
        ),
        pytest.param(
            {"sources.list": ONE_LINE},
            "http://one.example/debian",
            id="one-line-with-options",
        ),
        pytest.param(
            {
                "sources.list": "# deb http://old.example/debian bookworm main\n",
                "sources.list.d/a.list": "deb http://one.example/debian bookworm-updates main\n",
                "sources.list.d/b.sources": DEB822,
            },
            "http://mirror.example/debian",
            id="comments-and-other-suites-skipped",
        ),
        pytest.param({"sources.list": ""}, "", id="none"),
    ],
)
def test_debian_mirror(tmp_path: Path, files: dict[str, str], mirror: str) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert bash(f"debian_mirror {tmp_path}").strip() == mirror
