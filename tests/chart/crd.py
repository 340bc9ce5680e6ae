"""A Microservice checked the way the API server and the operator would, offline: the CRD's
OpenAPI schema (with unknown fields refused, as kubeconform -strict does), its list-map and
set uniqueness, and the operator's own model, which carries the CEL rules
(operator/tests/unit/test_crd_agrees.py keeps the two in step)."""

from __future__ import annotations

from typing import Any

import jsonschema
import yaml

from ci.topology import CHART
from shopmesh_operator.models import Microservice

CRD_PATH = CHART / "crds/microservices.shopmesh.io.yaml"


def _strict(node: dict[str, Any]) -> dict[str, Any]:
    """The schema with additionalProperties: false wherever the CRD would prune, and
    OpenAPI v3.0's `minimum: 0, exclusiveMinimum: true` in Draft 7's spelling."""
    node = dict(node)
    for bound, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        if node.get(exclusive) is True:
            node[exclusive] = node.pop(bound)
    if "properties" in node:
        node["properties"] = {k: _strict(v) for k, v in node["properties"].items()}
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            node.setdefault("additionalProperties", False)
    if isinstance(node.get("items"), dict):
        node["items"] = _strict(node["items"])
    if isinstance(node.get("additionalProperties"), dict):
        node["additionalProperties"] = _strict(node["additionalProperties"])
    return node


def _schema() -> dict[str, Any]:
    crd = yaml.safe_load(CRD_PATH.read_text())
    (version,) = crd["spec"]["versions"]
    root: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    spec = _strict(root["properties"]["spec"])
    return {"type": "object", "required": ["spec"], "properties": {"spec": spec}}


VALIDATOR = jsonschema.Draft7Validator(_schema())


def problems(doc: dict[str, Any]) -> list[str]:
    """What the API server or the operator would refuse in a Microservice; empty when none."""
    found = [
        f"{'.'.join(map(str, error.absolute_path))}: {error.message}"
        for error in VALIDATOR.iter_errors({"spec": doc["spec"]})
    ]
    names = [var["name"] for var in doc["spec"].get("env", [])]
    found += [f"env {name} twice" for name in sorted({n for n in names if names.count(n) > 1})]
    callers = doc["spec"].get("mesh", {}).get("allowedCallers", [])
    if len(set(callers)) != len(callers):
        found.append(f"allowedCallers repeat: {callers}")
    if not found:
        try:
            Microservice.from_body(doc)
        except ValueError as error:
            found.append(str(error))
    return found
