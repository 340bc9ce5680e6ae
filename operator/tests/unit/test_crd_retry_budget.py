"""The retry budget (attempts x perTryTimeout <= timeout) is checked twice: by a CEL
rule on spec.mesh in the CRD and by `models.Mesh`. A mesh the CRD admits but the
model refuses is stored by the API server and then never reconciles (InvalidSpec),
so both must draw the line in the same place.

There is no CEL evaluator among the test dependencies, so `_crd_admits` mirrors
the one rule by hand, with the two things the API server does that matter here:
structural defaulting (property defaults fill only objects that are present) and
CEL's `getMilliseconds()`, which counts whole milliseconds. A test pins the rule
text, so the mirror cannot silently go stale.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from shopmesh_operator.models import Mesh

from .crd_schema import cel_rules, crd_node

BUDGET_RULE = (
    "!has(self.retries) || self.retries.attempts * "
    "duration(self.retries.perTryTimeout).getMilliseconds() <= "
    "duration(self.timeout).getMilliseconds()"
)
_UNIT_MS = {"ms": Decimal(1), "s": Decimal(1000), "m": Decimal(60_000), "h": Decimal(3_600_000)}


def test_the_mirrored_rule_is_the_crds() -> None:
    assert BUDGET_RULE in cel_rules("spec.mesh")


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
    if "retries" not in mesh:
        return True
    retries = mesh["retries"]
    budget = retries["attempts"] * _cel_milliseconds(retries["perTryTimeout"])
    return budget <= _cel_milliseconds(mesh["timeout"])


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


OMITTED_RETRIES_BUG = pytest.mark.xfail(
    strict=True,
    reason=(
        "source bug: the CRD rule on spec.mesh starts with `!has(self.retries) ||`, so "
        "a mesh without `retries` skips the budget check, while models.Mesh checks the "
        "default retries (2 x 2s = 4s) against timeout; {timeout: 3s} is stored by the "
        "API server and then refused by the operator (InvalidSpec)"
    ),
)
SUB_MILLISECOND_BUG = pytest.mark.xfail(
    strict=True,
    reason=(
        "source bug: CEL's getMilliseconds() truncates to whole ms (3 x 1.5ms counts as "
        "3ms <= 4ms) while models.duration_ms keeps fractions (4.5ms > 4ms); durations "
        "with sub-millisecond parts pass the CRD and are refused by the operator"
    ),
)


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
        pytest.param(
            {"timeout": "3s"}, True, id="omitted-retries-over-timeout", marks=OMITTED_RETRIES_BUG
        ),
        pytest.param(
            {"timeout": "4ms", **_retries(3, "1.5ms")},
            True,
            id="sub-millisecond-per-try",
            marks=SUB_MILLISECOND_BUG,
        ),
    ],
)
def test_crd_and_model_agree_on_the_retry_budget(mesh: dict[str, Any], admitted: bool) -> None:
    assert _crd_admits(mesh) is admitted  # what the API server does, per the mirror
    assert _model_admits(mesh) is admitted
