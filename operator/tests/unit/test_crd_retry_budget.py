"""The two cross-field rules of spec.mesh are checked twice: by CEL rules in the
CRD and by `models.Mesh`. They are the retry budget (attempts x perTryTimeout <=
timeout, with the default 2 x 2s when `retries` is omitted) and "allowedCallers
needs mTLS". A mesh the CRD admits but the model refuses is stored by the API
server and then never reconciles (InvalidSpec), so both must draw the line in
the same place.

There is no CEL evaluator among the test dependencies, so `_crd_admits` mirrors
the two rules by hand, with the two things the API server does that matter here:
structural defaulting (property defaults fill only objects that are present) and
CEL's `getMilliseconds()`, which counts whole milliseconds. Tests pin the rule
texts and the default budget the budget rule spells out, so the mirror cannot
silently go stale.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shopmesh_operator.models import Mesh, Retries, duration_ms

from .crd_schema import cel_rules, crd_node

#: The default budget when `retries` is omitted: the default 2 x 2s.
DEFAULT_BUDGET_MS = 4000
BUDGET_RULE = (
    "(has(self.retries) ? self.retries.attempts * "
    "duration(self.retries.perTryTimeout).getMilliseconds() : "
    f"{DEFAULT_BUDGET_MS}) <= duration(self.timeout).getMilliseconds()"
)
CALLERS_RULE = (
    '!(self.mtls == "DISABLE" && has(self.allowedCallers) && size(self.allowedCallers) > 0)'
)
CALLERS_MESSAGE = "mesh.allowedCallers needs mTLS"
_UNIT_MS = {"ms": Decimal(1), "s": Decimal(1000), "m": Decimal(60_000), "h": Decimal(3_600_000)}


@pytest.mark.parametrize("rule", [BUDGET_RULE, CALLERS_RULE], ids=["budget", "callers-need-mtls"])
def test_the_mirrored_rules_are_the_crds(rule: str) -> None:
    assert rule in cel_rules("spec.mesh")


def test_the_callers_rule_and_the_model_give_the_same_reason() -> None:
    (crd_message,) = [
        rule["message"]
        for rule in crd_node("spec.mesh")["x-kubernetes-validations"]
        if rule["rule"] == CALLERS_RULE
    ]
    assert crd_message.startswith(CALLERS_MESSAGE)
    with pytest.raises(ValidationError, match=CALLERS_MESSAGE):
        Mesh.model_validate({"mtls": "DISABLE", "allowedCallers": ["orders"]})


def test_the_budget_rule_spells_out_the_default_retries() -> None:
    """The rule's literal for omitted `retries` is what the defaults of
    mesh.retries add up to, in the CRD and in the model alike."""
    defaults = crd_node("spec.mesh.retries")["properties"]
    crd_budget = defaults["attempts"]["default"] * _cel_milliseconds(
        defaults["perTryTimeout"]["default"]
    )
    model = Retries()
    model_budget = model.attempts * int(duration_ms(model.per_try_timeout))
    assert crd_budget == model_budget == DEFAULT_BUDGET_MS


def _with_crd_defaults(schema: dict[str, Any], value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    filled = dict(value)
    for name, prop in schema.get("properties", {}).items():
        if name not in filled and "default" in prop:
            filled[name] = prop["default"]
        if name in filled:
            filled[name] = _with_crd_defaults(prop, filled[name])
    return filled


def _cel_milliseconds(text: str) -> int:
    """duration(text).getMilliseconds(): whole milliseconds, truncated."""
    match = re.fullmatch(r"([0-9.]+)(ms|s|m|h)", text)
    assert match, text
    return int(Decimal(match[1]) * _UNIT_MS[match[2]])


def _crd_admits(mesh: dict[str, Any]) -> bool:
    mesh = _with_crd_defaults(crd_node("spec.mesh"), mesh)
    if "retries" in mesh:
        retries = mesh["retries"]
        budget = retries["attempts"] * _cel_milliseconds(retries["perTryTimeout"])
    else:
        budget = DEFAULT_BUDGET_MS
    budget_fits = budget <= _cel_milliseconds(mesh["timeout"])
    callers_without_mtls = mesh["mtls"] == "DISABLE" and len(mesh.get("allowedCallers", [])) > 0
    return budget_fits and not callers_without_mtls


def _model_admits(mesh: dict[str, Any]) -> bool:
    try:
        Mesh.model_validate(mesh)
    except ValidationError:
        return False
    return True


def _retries(attempts: int, per_try: str | None = None) -> dict[str, Any]:
    retries: dict[str, Any] = {"attempts": attempts}
    if per_try is not None:
        retries["perTryTimeout"] = per_try
    return {"retries": retries}


@pytest.mark.parametrize(
    ("mesh", "admitted"),
    [
        pytest.param({}, True, id="all-defaults"),
        pytest.param({"timeout": "5s", **_retries(3, "2s")}, False, id="3x2s-over-5s"),
        pytest.param({"timeout": "5s", **_retries(2, "2.5s")}, True, id="2x2.5s-equals-5s"),
        pytest.param({"timeout": "1m", **_retries(10, "6s")}, True, id="10x6s-equals-1m"),
        pytest.param({"timeout": "1s", **_retries(0, "1h")}, True, id="no-retries-no-budget"),
        pytest.param({"timeout": "1s", "retries": {}}, False, id="default-retries-over-1s"),
        pytest.param({"timeout": "4s"}, True, id="omitted-retries-equal-to-timeout"),
        pytest.param({"timeout": "3s"}, False, id="omitted-retries-over-timeout"),
        pytest.param({"timeout": "3999ms"}, False, id="omitted-retries-1ms-over-timeout"),
        pytest.param(
            {"timeout": "1.5s", "retries": {"perTryTimeout": "1s"}},
            False,
            id="default-attempts-2x1s-over-1.5s",
        ),
        pytest.param(
            {"timeout": "4ms", **_retries(3, "1.5ms")}, True, id="sub-millisecond-per-try"
        ),
        pytest.param(
            {"timeout": "4.9ms", **_retries(1, "5ms")}, False, id="sub-millisecond-timeout"
        ),
        pytest.param(
            {"timeout": "1.005s", **_retries(1, "1005ms")},
            True,
            id="decimal-seconds-equal-to-ms",
        ),
        pytest.param(
            {"mtls": "DISABLE", "allowedCallers": ["orders"]}, False, id="mtls-disable-callers"
        ),
        pytest.param(
            {"mtls": "DISABLE", "allowedCallers": ["shop/orders", "ops/admin"]},
            False,
            id="mtls-disable-cross-namespace-callers",
        ),
        pytest.param({"mtls": "DISABLE"}, True, id="mtls-disable-without-callers"),
        pytest.param(
            {"mtls": "DISABLE", "allowedCallers": []}, True, id="mtls-disable-empty-callers"
        ),
        pytest.param(
            {"mtls": "PERMISSIVE", "allowedCallers": ["orders"]}, True, id="permissive-callers"
        ),
        pytest.param({"allowedCallers": ["orders"]}, True, id="default-strict-callers"),
    ],
)
def test_crd_and_model_agree_on_the_mesh_rules(mesh: dict[str, Any], admitted: bool) -> None:
    assert _crd_admits(mesh) is admitted  # what the API server does, per the mirror
    assert _model_admits(mesh) is admitted
