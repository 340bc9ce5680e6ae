"""The CRD's OpenAPI schema and the pydantic models describe the same resource.

The API server validates and defaults with the CRD; the operator parses with the
models. If they drift apart, a field the CRD accepts is refused (or silently
dropped) by the operator, or a default differs between `kubectl get -o yaml` and
what is rendered. The four stub objects exist only in the CRD, so that they are
not pruned, and a CEL rule must refuse each until it is implemented.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from shopmesh_operator.models import Condition, MicroserviceSpec, MicroserviceStatus

CRD_PATH = Path(__file__).parents[3] / "charts/shopmesh/crds/microservices.shopmesh.io.yaml"
STUBS = ("autoscaling", "disruption", "mesh", "rollout")
#: A model default of "nothing" is what an absent CRD default means.
EMPTY_DEFAULTS: tuple[Any, ...] = (None, [], {})


def _crd_root() -> dict[str, Any]:
    crd = yaml.safe_load(CRD_PATH.read_text())
    (version,) = crd["spec"]["versions"]
    root: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return root


CRD_SPEC = _crd_root()["properties"]["spec"]
CRD_STATUS = _crd_root()["properties"]["status"]
MODEL_SCHEMA = MicroserviceSpec.model_json_schema(by_alias=True)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    """Follow $ref and unwrap pydantic's `anyOf: [X, null]` for optional fields."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _resolve(
            {**MODEL_SCHEMA["$defs"][name], **{k: v for k, v in node.items() if k != "$ref"}}
        )
    options = [opt for opt in node.get("anyOf", []) if opt.get("type") != "null"]
    if len(options) == 1 and len(node["anyOf"]) == 2:
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return {**_resolve(options[0]), **rest}
    return node


def _walk(
    crd: dict[str, Any], model: dict[str, Any], path: str = "spec"
) -> list[tuple[str, Any, Any]]:
    """Pairs of (crd, model) nodes at the same path, depth first."""
    model = _resolve(model)
    pairs: list[tuple[str, Any, Any]] = [(path, crd, model)]
    crd_props, model_props = crd.get("properties", {}), model.get("properties", {})
    for name in crd_props.keys() & model_props.keys():
        pairs += _walk(crd_props[name], model_props[name], f"{path}.{name}")
    if "items" in crd and "items" in model:
        pairs += _walk(crd["items"], model["items"], f"{path}[]")
    if isinstance(crd.get("additionalProperties"), dict) and "additionalProperties" in model:
        pairs += _walk(crd["additionalProperties"], model["additionalProperties"], f"{path}{{}}")
    return pairs


PAIRS = _walk(CRD_SPEC, MODEL_SCHEMA)
PAIR_IDS = [path for path, _, _ in PAIRS]


def _types(node: dict[str, Any]) -> set[str]:
    if "type" in node:
        return {node["type"]}
    return {opt["type"] for opt in node.get("anyOf", [])}


def test_the_walk_reaches_every_level() -> None:
    assert {
        "spec.env[].valueFrom.secretKeyRef.key",
        "spec.env[].valueFrom.configMapKeyRef.optional",
        "spec.resources.limits{}",
        "spec.probes.liveness",
    } <= set(PAIR_IDS)


@pytest.mark.parametrize(("path", "crd", "model"), PAIRS, ids=PAIR_IDS)
def test_same_property_names(path: str, crd: dict[str, Any], model: dict[str, Any]) -> None:
    crd_names = set(crd.get("properties", {}))
    if path == "spec":
        assert crd_names >= set(STUBS)
        crd_names -= set(STUBS)
    assert crd_names == set(model.get("properties", {}))


@pytest.mark.parametrize(("path", "crd", "model"), PAIRS, ids=PAIR_IDS)
def test_same_required(path: str, crd: dict[str, Any], model: dict[str, Any]) -> None:
    assert set(crd.get("required", [])) == set(model.get("required", []))


@pytest.mark.parametrize(("path", "crd", "model"), PAIRS, ids=PAIR_IDS)
def test_same_defaults(path: str, crd: dict[str, Any], model: dict[str, Any]) -> None:
    model_default = model.get("default")
    if "default" not in crd and model_default in EMPTY_DEFAULTS:
        return
    assert crd.get("default") == model_default


@pytest.mark.parametrize(("path", "crd", "model"), PAIRS, ids=PAIR_IDS)
def test_same_types_and_bounds(path: str, crd: dict[str, Any], model: dict[str, Any]) -> None:
    assert _types(crd) == _types(model)
    # Every constraint the model has, the CRD must have too: otherwise the API server
    # accepts an object the operator then cannot parse. The CRD may be stricter.
    for keyword in ("minimum", "maximum", "minLength", "pattern"):
        if keyword in model:
            assert crd.get(keyword) == model[keyword], keyword


@pytest.mark.parametrize(
    ("field", "minimum", "maximum", "default"),
    [
        pytest.param("port", 1, 65535, 8080, id="port"),
        pytest.param("replicas", 0, 1000, 1, id="replicas"),
    ],
)
def test_numeric_bounds(field: str, minimum: int, maximum: int, default: int) -> None:
    crd = CRD_SPEC["properties"][field]
    model = MODEL_SCHEMA["properties"][field]
    assert (crd["minimum"], crd["maximum"], crd["default"]) == (minimum, maximum, default)
    assert (model["minimum"], model["maximum"], model["default"]) == (minimum, maximum, default)


@pytest.mark.parametrize("stub", [pytest.param(name, id=name) for name in STUBS])
def test_stub_exists_only_in_crd_and_is_refused_by_cel(stub: str) -> None:
    assert CRD_SPEC["properties"][stub]["type"] == "object"
    assert stub not in MODEL_SCHEMA["properties"]
    rules = [rule["rule"] for rule in CRD_SPEC["x-kubernetes-validations"]]
    assert f"!has(self.{stub})" in rules


def _aliases(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


def _required(model: type[BaseModel]) -> set[str]:
    return {
        field.alias or name for name, field in model.model_fields.items() if field.is_required()
    }


@pytest.mark.parametrize(
    ("crd", "model"),
    [
        pytest.param(CRD_STATUS, MicroserviceStatus, id="status"),
        pytest.param(CRD_STATUS["properties"]["conditions"]["items"], Condition, id="condition"),
    ],
)
def test_status_schema_matches_model(crd: dict[str, Any], model: type[BaseModel]) -> None:
    assert set(crd["properties"]) == _aliases(model)
    assert set(crd.get("required", [])) == _required(model)


def _enum(node: dict[str, Any]) -> list[str] | None:
    options = [opt for opt in node.get("anyOf", [node]) if opt.get("type") != "null"]
    enum: list[str] | None = options[0].get("enum")
    return enum


CONDITION_CRD = CRD_STATUS["properties"]["conditions"]["items"]


@pytest.mark.parametrize(
    ("crd", "model", "field"),
    [
        pytest.param(CRD_STATUS, MicroserviceStatus, "phase", id="phase"),
        pytest.param(CONDITION_CRD, Condition, "status", id="condition-status"),
        pytest.param(
            CONDITION_CRD,
            Condition,
            "type",
            id="condition-type",
        ),
    ],
)
def test_status_enums_match(crd: dict[str, Any], model: type[BaseModel], field: str) -> None:
    """The model must not refuse a status value the CRD lets through."""
    model_enum = _enum(model.model_json_schema(by_alias=True)["properties"][field])
    assert crd["properties"][field].get("enum") == model_enum
