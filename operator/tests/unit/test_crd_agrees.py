"""The CRD's OpenAPI schema and the pydantic models describe the same resource.

The API server validates and defaults with the CRD; the operator parses with the
models. If they drift apart, a field the CRD accepts is refused (or silently
dropped) by the operator, or a default differs between `kubectl get -o yaml` and
what is rendered; a status the operator writes is refused by the API server, or
one it reads back is refused by the model. The walk pairs every CRD node with the
model node at the same path, all the way down, for spec and status. The few
deliberate differences are listed below, each with the CEL rule that makes it
safe; the budget rule of mesh.retries has its own file, test_crd_retry_budget.py,
and the rules of rollout.canary and rollout.blueGreen theirs, test_crd_canary.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.models import MicroserviceSpec, MicroserviceStatus

from .crd_schema import CRD_SPEC, CRD_STATUS, cel_rules, crd_node

MODEL_SCHEMA = MicroserviceSpec.model_json_schema(by_alias=True)
STATUS_SCHEMA = MicroserviceStatus.model_json_schema(by_alias=True)
#: A model default of "nothing" is what an absent CRD default means.
EMPTY_DEFAULTS: tuple[Any, ...] = (None, [], {})
#: Model defaults the CRD leaves unset on purpose, so CEL can tell "unset" from "set".
NO_CRD_DEFAULT = {"spec.replicas"}


def _resolve(node: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Follow $ref and unwrap pydantic's `anyOf: [X, null]` for optional fields."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return _resolve({**defs[name], **{k: v for k, v in node.items() if k != "$ref"}}, defs)
    options = [opt for opt in node.get("anyOf", []) if opt.get("type") != "null"]
    if len(options) == 1 and len(node["anyOf"]) == 2:
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        return {**_resolve(options[0], defs), **rest}
    return node


def _walk(
    crd: dict[str, Any], model: dict[str, Any], path: str, defs: dict[str, Any]
) -> list[tuple[str, Any, Any]]:
    """Pairs of (crd, model) nodes at the same path, depth first."""
    model = _resolve(model, defs)
    pairs: list[tuple[str, Any, Any]] = [(path, crd, model)]
    crd_props, model_props = crd.get("properties", {}), model.get("properties", {})
    for name in sorted(crd_props.keys() & model_props.keys()):
        pairs += _walk(crd_props[name], model_props[name], f"{path}.{name}", defs)
    if "items" in crd and "items" in model:
        pairs += _walk(crd["items"], model["items"], f"{path}[]", defs)
    if isinstance(crd.get("additionalProperties"), dict) and "additionalProperties" in model:
        pairs += _walk(
            crd["additionalProperties"], model["additionalProperties"], f"{path}{{}}", defs
        )
    return pairs


PAIRS = _walk(CRD_SPEC, MODEL_SCHEMA, "spec", MODEL_SCHEMA["$defs"])
PAIR_IDS = [path for path, _, _ in PAIRS]
#: Status has no defaults in the CRD (the operator writes every field it means), so
#: the status walk compares names, required fields, types and enums, not defaults.
STATUS_PAIRS = _walk(CRD_STATUS, STATUS_SCHEMA, "status", STATUS_SCHEMA["$defs"])
STATUS_PAIR_IDS = [path for path, _, _ in STATUS_PAIRS]
BOTH_PAIRS = [pytest.param(*pair, id=pair[0]) for pair in PAIRS + STATUS_PAIRS]


def _types(node: dict[str, Any]) -> set[str]:
    """The JSON types a node admits; null is how the model spells "may be absent"."""
    if "type" in node:
        return {node["type"]}
    return {opt["type"] for opt in node.get("anyOf", [])} - {"null"}


def _bounds(node: dict[str, Any]) -> dict[str, tuple[Any, bool]]:
    """Numeric bounds as (limit, exclusive). The CRD speaks OpenAPI v3.0 (minimum plus
    `exclusiveMinimum: true`); pydantic speaks JSON Schema 2020-12 (`exclusiveMinimum: 0`)."""
    bounds = {}
    for side, keyword, exclusive in (
        ("low", "minimum", "exclusiveMinimum"),
        ("high", "maximum", "exclusiveMaximum"),
    ):
        if isinstance(node.get(exclusive), bool) or exclusive not in node:
            bounds[side] = (node.get(keyword), bool(node.get(exclusive)))
        else:
            bounds[side] = (node[exclusive], True)
    return bounds


def _enum(node: dict[str, Any]) -> set[Any] | None:
    if "const" in node:  # pydantic's spelling of a one-value Literal
        return {node["const"]}
    return set(node["enum"]) if "enum" in node else None


def test_the_walk_reaches_every_level() -> None:
    assert {
        "spec.env[].valueFrom.secretKeyRef.key",
        "spec.env[].valueFrom.configMapKeyRef.optional",
        "spec.resources.limits{}",
        "spec.probes.liveness",
        "spec.autoscaling.targetCPUUtilization",
        "spec.autoscaling.metrics[].targetAverageValue",
        "spec.disruption.minAvailable",
        "spec.mesh.allowedCallers[]",
        "spec.mesh.retries.perTryTimeout",
        "spec.mesh.circuitBreaker.consecutive5xxErrors",
        "spec.mesh.circuitBreaker.maxConnections",
        "spec.mesh.loadBalancer",
        "spec.rollout.strategy",
        "spec.rollout.canary.steps[].setWeight",
        "spec.rollout.canary.steps[].pause.duration",
        "spec.rollout.canary.steps[].analysis.measurements",
        "spec.rollout.canary.trafficRouting",
        "spec.rollout.canary.analysis.interval",
        "spec.rollout.canary.analysis.metrics[].maxMs",
        "spec.rollout.blueGreen.autoPromotionSeconds",
        "spec.rollout.blueGreen.scaleDownDelaySeconds",
        "spec.rollout.blueGreen.prePromotionMeasurements",
        "spec.rollout.blueGreen.analysis.interval",
        "spec.rollout.blueGreen.analysis.metrics[].maxMs",
    } <= set(PAIR_IDS)
    assert {
        "status.phase",
        "status.conditions[].status",
        "status.rollout.held.reason",
        "status.rollout.history[].outcome",
        "status.rollout.release.strategy",
        "status.rollout.release.paused",
        "status.rollout.release.analysis.measurements[].verdict",
        "status.rollout.steered",
    } <= set(STATUS_PAIR_IDS)


@pytest.mark.parametrize(("path", "crd", "model"), BOTH_PAIRS)
def test_same_property_names(path: str, crd: dict[str, Any], model: dict[str, Any]) -> None:
    assert set(crd.get("properties", {})) == set(model.get("properties", {}))


@pytest.mark.parametrize(("path", "crd", "model"), BOTH_PAIRS)
def test_same_required(path: str, crd: dict[str, Any], model: dict[str, Any]) -> None:
    assert set(crd.get("required", [])) == set(model.get("required", []))


@pytest.mark.parametrize(("path", "crd", "model"), PAIRS, ids=PAIR_IDS)
def test_same_defaults(path: str, crd: dict[str, Any], model: dict[str, Any]) -> None:
    model_default = model.get("default")
    if path in NO_CRD_DEFAULT:
        assert "default" not in crd
        assert model_default not in EMPTY_DEFAULTS
        return
    if "default" not in crd and model_default in EMPTY_DEFAULTS:
        return
    assert crd.get("default") == model_default


@pytest.mark.parametrize(("path", "crd", "model"), BOTH_PAIRS)
def test_same_types_and_bounds(path: str, crd: dict[str, Any], model: dict[str, Any]) -> None:
    assert _types(crd) == _types(model)
    # Numeric bounds must be the same both ways.
    assert _bounds(crd) == _bounds(model)
    # Every string and list constraint the model has, the CRD must have too: otherwise
    # the API server accepts an object the operator then cannot parse. The CRD may be
    # stricter.
    for keyword in ("minLength", "maxLength", "pattern", "minItems", "maxItems"):
        if keyword in model:
            assert crd.get(keyword) == model[keyword], keyword


@pytest.mark.parametrize(("path", "crd", "model"), BOTH_PAIRS)
def test_same_enum(path: str, crd: dict[str, Any], model: dict[str, Any]) -> None:
    assert _enum(crd) == _enum(model)


def _stubs(node: dict[str, Any], path: str) -> list[str]:
    """Paths below `node` that keep unknown fields (a schema not written yet)."""
    found = [path] if node.get("x-kubernetes-preserve-unknown-fields") else []
    for name, child in node.get("properties", {}).items():
        found += _stubs(child, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        found += _stubs(node["items"], f"{path}[]")
    return found


def test_every_part_of_the_spec_has_a_schema() -> None:
    """No block is declared as a stub that keeps whatever it is given: the walk
    above compares only what the CRD spells out."""
    assert _stubs(CRD_SPEC, "spec") == []


@pytest.mark.parametrize(
    ("path", "rule"),
    [
        pytest.param(
            "spec.autoscaling", "self.minReplicas <= self.maxReplicas", id="autoscaling-bounds"
        ),
        pytest.param(
            "spec.disruption",
            "has(self.minAvailable) != has(self.maxUnavailable)",
            id="disruption-exactly-one",
        ),
        pytest.param("spec.env[]", "!(has(self.value) && has(self.valueFrom))", id="env-not-both"),
        pytest.param(
            "spec.env[].valueFrom",
            "has(self.secretKeyRef) != has(self.configMapKeyRef)",
            id="valueFrom-exactly-one",
        ),
        pytest.param(
            "spec.mesh",
            '!(self.mtls == "DISABLE" && has(self.allowedCallers) '
            "&& size(self.allowedCallers) > 0)",
            id="callers-need-mtls",
        ),
    ],
)
def test_model_validators_have_cel_twins(path: str, rule: str) -> None:
    """Each cross-field check of the models is also a CEL rule, so kubectl refuses
    what the operator would refuse instead of accepting an object that never reconciles."""
    assert rule in cel_rules(path)


def test_replicas_is_unset_in_the_crd_so_cel_sees_it_next_to_autoscaling() -> None:
    replicas = crd_node("spec.replicas")
    assert "default" not in replicas
    assert MODEL_SCHEMA["properties"]["replicas"]["default"] == 1
    assert (replicas["minimum"], replicas["maximum"]) == (0, 1000)
    (rule,) = [rule for rule in cel_rules("spec") if "autoscaling" in rule]
    assert rule.startswith("!has(self.autoscaling) || !has(self.replicas) || ")
    assert "self.replicas >= self.autoscaling.minReplicas" in rule
    assert "self.replicas <= self.autoscaling.maxReplicas" in rule
