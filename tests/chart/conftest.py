"""Fixtures of the chart tests: the repository root on sys.path (for ci.topology), the
project's helm, and `helm template` of charts/shopmesh as parsed documents."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

REPO = str(Path(__file__).resolve().parents[2])
if REPO not in sys.path:
    sys.path.insert(0, REPO)

from ci.topology.chart import find_helm, render_chart  # noqa: E402

from .support import Render  # noqa: E402


@pytest.fixture(scope="session")
def helm() -> str:
    found = find_helm()
    if found is None:
        pytest.skip("helm is not built: make tools")
    return found


@pytest.fixture(scope="session")
def render(helm: str) -> Render:
    """render(*args, release="rel", namespace="shop") -> the documents helm template prints."""
    cache: dict[tuple[Any, ...], list[dict[str, Any]]] = {}

    def _render(*args: str, release: str = "rel", namespace: str = "shop") -> list[dict[str, Any]]:
        key = (args, release, namespace)
        if key not in cache:
            cache[key] = render_chart(helm, *args, release=release, namespace=namespace)
        return cache[key]

    return _render
