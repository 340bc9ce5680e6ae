"""Table tests for the mesh parts of models.py: durations (DURATION_PATTERN and
`duration_ms`), allowed callers (CALLER_PATTERN) and their need for mTLS, the
retry budget rule attempts x perTryTimeout <= timeout (in whole milliseconds, as
the CRD's CEL rule counts), and the enums and bounds of spec.mesh."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from shopmesh_operator.models import Mesh, Retries, duration_ms

DURATION_FIELDS = [
    pytest.param(("timeout",), id="timeout"),
    pytest.param(("retries", "perTryTimeout"), id="perTryTimeout"),
    pytest.param(("circuitBreaker", "interval"), id="interval"),
    pytest.param(("circuitBreaker", "baseEjectionTime"), id="baseEjectionTime"),
]


def _mesh_with(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    mesh: dict[str, Any] = {}
    node = mesh
    for step in path[:-1]:
        node = node.setdefault(step, {})
    node[path[-1]] = value
    return mesh


def _errors(mesh: dict[str, Any]) -> dict[tuple[str, str], str]:
    with pytest.raises(ValidationError) as excinfo:
        Mesh.model_validate(mesh)
    return {
        (".".join(map(str, err["loc"])), err["type"]): err["msg"] for err in excinfo.value.errors()
    }


@pytest.mark.parametrize("path", DURATION_FIELDS)
@pytest.mark.parametrize(
    "value",
    [
        pytest.param("-1s", id="negative"),
        pytest.param("5", id="no-unit"),
        pytest.param("1d", id="days"),
        pytest.param("1.s", id="dangling-dot"),
        pytest.param("1 s", id="space"),
        pytest.param("1S", id="upper-case-unit"),
        pytest.param("1h30m", id="compound"),
        pytest.param("", id="empty"),
    ],
)
def test_malformed_duration_is_refused(path: tuple[str, ...], value: str) -> None:
    errors = _errors(_mesh_with(path, value))
    assert (".".join(path), "string_pattern_mismatch") in errors, errors


@pytest.mark.parametrize(
    "caller",
    [
        pytest.param("Orders", id="upper-case"),
        pytest.param("a_b", id="underscore"),
        pytest.param("ns/", id="empty-name"),
        pytest.param("/x", id="empty-namespace"),
        pytest.param("a/b/c", id="two-slashes"),
        pytest.param("-gateway", id="leading-dash"),
        pytest.param("gateway-", id="trailing-dash"),
        pytest.param("shop/Gateway", id="upper-case-name"),
        pytest.param("gate.way", id="dot"),
        pytest.param("", id="empty"),
    ],
)
def test_caller_that_is_not_a_dns_label_is_refused(caller: str) -> None:
    errors = _errors({"allowedCallers": ["gateway", caller]})
    assert ("allowedCallers.1", "string_pattern_mismatch") in errors, errors
    assert not any(loc == "allowedCallers.0" for loc, _ in errors)


@pytest.mark.parametrize(
    ("mesh", "loc", "kind", "text"),
    [
        pytest.param(
            {"timeout": "5s", "retries": {"attempts": 3, "perTryTimeout": "2s"}},
            "",
            "value_error",
            "attempts x perTryTimeout (3 x 2s) exceeds mesh.timeout (5s)",
            id="budget-3x2s-over-5s",
        ),
        pytest.param(
            {"timeout": "1s"},
            "",
            "value_error",
            "(2 x 2s) exceeds mesh.timeout (1s)",
            id="default-retries-over-short-timeout",
        ),
        pytest.param(
            {"timeout": "999ms", "retries": {"attempts": 1, "perTryTimeout": "1s"}},
            "",
            "value_error",
            "exceeds mesh.timeout",
            id="budget-units-mixed",
        ),
        pytest.param(
            {"timeout": "3s"},
            "",
            "value_error",
            "(2 x 2s) exceeds mesh.timeout (3s)",
            id="omitted-retries-default-budget-over-timeout",
        ),
        pytest.param(
            {"timeout": "4.9ms", "retries": {"attempts": 1, "perTryTimeout": "5ms"}},
            "",
            "value_error",
            "(1 x 5ms) exceeds mesh.timeout (4.9ms)",
            id="timeout-counted-in-whole-ms",
        ),
        pytest.param(
            {"mtls": "DISABLE", "allowedCallers": ["orders"]},
            "",
            "value_error",
            "mesh.allowedCallers needs mTLS",
            id="callers-without-mtls",
        ),
        pytest.param({"mtls": "STRICTEST"}, "mtls", "literal_error", "", id="unknown-mtls"),
        pytest.param({"mtls": "strict"}, "mtls", "literal_error", "", id="mtls-lower-case"),
        pytest.param(
            {"loadBalancer": "LEAST_CONN"}, "loadBalancer", "literal_error", "", id="unknown-lb"
        ),
        pytest.param(
            {"retries": {"attempts": 11}},
            "retries.attempts",
            "less_than_equal",
            "",
            id="attempts-11",
        ),
        pytest.param(
            {"retries": {"attempts": -1}},
            "retries.attempts",
            "greater_than_equal",
            "",
            id="attempts-negative",
        ),
        pytest.param(
            {"retries": {"retryOn": "5xx, reset"}},
            "retries.retryOn",
            "string_pattern_mismatch",
            "",
            id="retry-on-with-space",
        ),
        pytest.param(
            {"circuitBreaker": {"consecutive5xxErrors": 0}},
            "circuitBreaker.consecutive5xxErrors",
            "greater_than_equal",
            "",
            id="consecutive-errors-0",
        ),
        pytest.param(
            {"circuitBreaker": {"maxEjectionPercent": 101}},
            "circuitBreaker.maxEjectionPercent",
            "less_than_equal",
            "",
            id="ejection-over-100",
        ),
        pytest.param(
            {"circuitBreaker": {"maxConnections": 0}},
            "circuitBreaker.maxConnections",
            "greater_than_equal",
            "",
            id="max-connections-0",
        ),
        pytest.param(
            {"circuitBreaker": {"consecutiveErrors": 5}},
            "circuitBreaker.consecutiveErrors",
            "extra_forbidden",
            "",
            id="unknown-breaker-field",
        ),
    ],
)
def test_bad_mesh_is_refused(mesh: dict[str, Any], loc: str, kind: str, text: str) -> None:
    errors = _errors(mesh)
    assert (loc, kind) in errors, errors
    assert text in errors[(loc, kind)]


@pytest.mark.parametrize(
    ("mesh", "callers", "retries"),
    [
        pytest.param(
            {"timeout": "5s", "retries": {"attempts": 2, "perTryTimeout": "2500ms"}},
            (),
            Retries(attempts=2, per_try_timeout="2500ms"),
            id="budget-exactly-equal-allowed",
        ),
        pytest.param({"timeout": "4s"}, (), Retries(), id="default-retries-exactly-fill-timeout"),
        pytest.param(
            {"timeout": "1s", "retries": {"attempts": 0, "perTryTimeout": "1h"}},
            (),
            Retries(attempts=0, per_try_timeout="1h"),
            id="attempts-0-has-no-budget",
        ),
        pytest.param(
            {"timeout": "1.5m", "retries": {"attempts": 3, "perTryTimeout": "0.5m"}},
            (),
            Retries(attempts=3, per_try_timeout="0.5m"),
            id="fractional-durations",
        ),
        pytest.param(
            {"timeout": "4ms", "retries": {"attempts": 3, "perTryTimeout": "1.5ms"}},
            (),
            Retries(attempts=3, per_try_timeout="1.5ms"),
            id="per-try-counted-in-whole-ms-like-cel",
        ),
        pytest.param(
            {"mtls": "DISABLE", "allowedCallers": []},
            (),
            Retries(),
            id="mtls-disable-without-callers",
        ),
        pytest.param(
            {"mtls": "PERMISSIVE", "allowedCallers": ["orders"]},
            ("orders",),
            Retries(),
            id="callers-with-permissive-mtls",
        ),
        pytest.param(
            {"allowedCallers": ["gateway", "istio-system/istio-ingressgateway", "a", "0ps/x-1"]},
            ("gateway", "istio-system/istio-ingressgateway", "a", "0ps/x-1"),
            Retries(),
            id="callers-local-and-cross-namespace",
        ),
    ],
)
def test_good_mesh_parses(mesh: dict[str, Any], callers: tuple[str, ...], retries: Retries) -> None:
    parsed = Mesh.model_validate(mesh)
    assert (parsed.allowed_callers, parsed.retries) == (callers, retries)


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        pytest.param("500ms", 500.0, id="ms"),
        pytest.param("0ms", 0.0, id="zero"),
        pytest.param("2s", 2000.0, id="s"),
        pytest.param("2.5s", 2500.0, id="fractional-s"),
        pytest.param("1m", 60_000.0, id="m"),
        pytest.param("1h", 3_600_000.0, id="h"),
        pytest.param("10ms", 10.0, id="ms-is-not-read-as-m"),
    ],
)
def test_duration_ms(text: str, ms: float) -> None:
    assert duration_ms(text) == ms


@pytest.mark.parametrize("text", [pytest.param("5", id="no-unit"), pytest.param("1d", id="days")])
def test_duration_ms_refuses_unknown_units(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        duration_ms(text)
