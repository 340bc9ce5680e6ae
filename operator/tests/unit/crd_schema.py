"""The Microservice CRD's OpenAPI schema as the unit tests read it, and its CEL
rules by schema path. Used by test_crd_agrees.py and test_crd_retry_budget.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

CRD_PATH = Path(__file__).parents[3] / "charts/shopmesh/crds/microservices.shopmesh.io.yaml"


def load_crd_root() -> dict[str, Any]:
    crd = yaml.safe_load(CRD_PATH.read_text())
    (version,) = crd["spec"]["versions"]
    root: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return root


CRD_ROOT = load_crd_root()
CRD_SPEC: dict[str, Any] = CRD_ROOT["properties"]["spec"]
CRD_STATUS: dict[str, Any] = CRD_ROOT["properties"]["status"]


def crd_node(path: str) -> dict[str, Any]:
    """The schema node at a dotted path such as "spec.mesh.retries"; "[]" steps into items."""
    node = CRD_ROOT
    for step in path.split("."):
        name, items = (step[:-2], True) if step.endswith("[]") else (step, False)
        node = node["properties"][name]
        if items:
            node = node["items"]
    return node


def cel_rules(path: str) -> list[str]:
    return [rule["rule"] for rule in crd_node(path).get("x-kubernetes-validations", [])]
