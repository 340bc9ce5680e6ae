"""Small helpers the chart tests share: the `render` fixture's type and ways to pick
documents out of what helm rendered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: render(*helm_args, release="rel", namespace="shop") -> the rendered documents.
Render = Callable[..., list[dict[str, Any]]]


def kinds(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    """The documents of one kind, by name."""
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def env_of(ms: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A Microservice's environment variables, by name."""
    return {var["name"]: var for var in ms["spec"].get("env", [])}
