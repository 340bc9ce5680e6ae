"""Table tests for drift.py: `find_drift` (is the rendered manifest a subset of the
live object, quantities compared by value?) and `parse_quantity`."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import pytest

from shopmesh_operator.drift import find_drift, parse_quantity

CONTAINER: dict[str, Any] = {
    "name": "app",
    "image": "shopmesh/cart:1.0",
    "ports": [{"name": "http", "containerPort": 8080}],
    "resources": {"requests": {"cpu": "1000m", "memory": "1Gi"}, "limits": {"cpu": "500m"}},
}
DESIRED: dict[str, Any] = {
    "spec": {"replicas": 2, "template": {"spec": {"containers": [CONTAINER]}}},
}


def _live(**changes: Any) -> dict[str, Any]:
    """DESIRED as the API server would return it, with `changes` applied to the container."""
    container = {
        **CONTAINER,
        "terminationMessagePath": "/dev/termination-log",
        "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP"}],
        "resources": {"requests": {"cpu": "1", "memory": "1024Mi"}, "limits": {"cpu": "0.5"}},
        **changes,
    }
    return {
        "metadata": {"resourceVersion": "42", "generation": 7},
        "spec": {"replicas": 2, "template": {"spec": {"containers": [container]}}},
        "status": {"readyReplicas": 2},
    }


C0 = ".spec.template.spec.containers[0]"


@pytest.mark.parametrize(
    ("desired", "live", "expected"),
    [
        pytest.param(DESIRED, DESIRED, None, id="equal"),
        pytest.param(DESIRED, _live(), None, id="defaulted-live-and-canonical-quantities"),
        pytest.param({"a": 1}, {"a": 1, "b": 2}, None, id="extra-live-key-ignored"),
        pytest.param(
            {"spec": {"selector": {"app": "a"}}},
            {"spec": {"selector": {"app": "a", "shopmesh.io/track": "stable"}}},
            ".spec.selector.shopmesh.io/track",
            id="a-selector-key-the-spec-dropped",
        ),
        pytest.param(
            {"spec": {"selector": {"matchLabels": {"app": "a"}}}},
            {"spec": {"selector": {"matchLabels": {"app": "a", "tier": "x"}}}},
            ".spec.selector.matchLabels.tier",
            id="a-match-labels-key-the-spec-dropped",
        ),
        pytest.param(
            {"metadata": {"labels": {"app": "a"}}},
            {"metadata": {"labels": {"app": "a", "other": "x"}}},
            None,
            id="labels-others-added-are-ignored",
        ),
        pytest.param({"a": {}}, {"a": {"x": 1}}, None, id="empty-desired-dict-matches-any-dict"),
        pytest.param(
            DESIRED,
            {**_live(), "spec": {**_live()["spec"], "replicas": 3}},
            ".spec.replicas",
            id="changed-scalar",
        ),
        pytest.param(DESIRED, _live(image="evil:1"), f"{C0}.image", id="changed-nested-scalar"),
        pytest.param(
            DESIRED,
            _live(ports=[{"name": "http", "containerPort": 9090}]),
            f"{C0}.ports[0].containerPort",
            id="nested-list-element",
        ),
        pytest.param(DESIRED, _live(ports=[]), f"{C0}.ports", id="list-shorter"),
        pytest.param({"a": [1]}, {"a": [1, 2]}, ".a", id="list-longer"),
        pytest.param({"a": [1, 2]}, {"a": [2, 1]}, ".a[0]", id="list-order-matters"),
        pytest.param(
            DESIRED,
            _live(resources={"requests": {"cpu": "2", "memory": "1Gi"}}),
            f"{C0}.resources.requests.cpu",
            id="different-quantity",
        ),
        pytest.param(
            DESIRED,
            _live(resources={"requests": {"cpu": "1"}}),
            f"{C0}.resources.requests.memory",
            id="missing-nested-key",
        ),
        pytest.param({"a": 1, "b": 2}, {"b": 2}, ".a", id="missing-key"),
        pytest.param({"a": {"b": 1}}, {"a": None}, ".a", id="dict-replaced-by-null"),
        pytest.param({"a": {"b": 1}}, {"a": "x"}, ".a", id="dict-replaced-by-scalar"),
        pytest.param({"a": [1]}, {"a": {"0": 1}}, ".a", id="list-replaced-by-dict"),
        pytest.param({"a": False}, {}, ".a", id="false-is-not-missing"),
        pytest.param({"a": 0}, {"a": None}, ".a", id="zero-is-not-null"),
        pytest.param({"a": "http"}, {"a": 8080}, ".a", id="named-port-vs-number"),
        pytest.param({"a": {}}, {"a": []}, ".a", id="empty-dict-vs-list"),
    ],
)
def test_find_drift(desired: Any, live: Any, expected: str | None) -> None:
    assert find_drift(desired, live) == expected


def _resources(kind: str, name: str, value: Any) -> dict[str, Any]:
    return {"resources": {kind: {name: value}}}


@pytest.mark.parametrize(
    ("desired", "live"),
    [
        pytest.param("1000m", "1", id="milli-vs-whole"),
        pytest.param("1Gi", "1024Mi", id="binary-suffixes"),
        pytest.param("500m", "0.5", id="milli-vs-decimal"),
        pytest.param(1, "1", id="int-vs-string"),
        pytest.param("1k", "1000", id="decimal-suffix"),
        pytest.param("1e3", "1k", id="exponent"),
        pytest.param("129e6", "129M", id="exponent-vs-mega"),
    ],
)
@pytest.mark.parametrize("kind", ["requests", "limits"])
def test_equivalent_quantities_are_not_drift(kind: str, desired: Any, live: Any) -> None:
    assert find_drift(_resources(kind, "cpu", desired), _resources(kind, "cpu", live)) is None


@pytest.mark.parametrize(
    ("desired", "live"),
    [
        pytest.param("1", "1001m", id="off-by-a-milli"),
        pytest.param("1Gi", "1G", id="binary-vs-decimal-giga"),
        pytest.param("1Mi", "1M", id="binary-vs-decimal-mega"),
        pytest.param("500m", "5", id="milli-vs-whole"),
        pytest.param("1Ki", "1k", id="kibi-vs-kilo"),
        pytest.param("1", "one", id="not-a-quantity"),
    ],
)
def test_different_quantities_are_drift(desired: str, live: str) -> None:
    drift = find_drift(
        _resources("limits", "memory", desired), _resources("limits", "memory", live)
    )
    assert drift == ".resources.limits.memory"


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("ephemeral-storage", id="hyphenated"),
        pytest.param("hugepages-2Mi", id="hugepages"),
        pytest.param(
            "nvidia.com/gpu",
            id="extended-resource-with-dot",
        ),
    ],
)
def test_any_resource_name_compares_as_quantity(name: str) -> None:
    """The API server returns every quantity as a string, whatever the spec said."""
    assert find_drift(_resources("limits", name, 1), _resources("limits", name, "1")) is None


@pytest.mark.parametrize(
    ("desired", "live", "expected"),
    [
        pytest.param(
            {"env": [{"name": "V", "value": "1.10"}]},
            {"env": [{"name": "V", "value": "1.1"}]},
            ".env[0].value",
            id="env-1.1-1.10",
        ),
        pytest.param(
            {"env": [{"name": "V", "value": "1"}]},
            {"env": [{"name": "V", "value": "1.0"}]},
            ".env[0].value",
            id="env-1-1.0",
        ),
        pytest.param(
            {"labels": {"app.kubernetes.io/version": "1k"}},
            {"labels": {"app.kubernetes.io/version": "1000"}},
            ".labels.app.kubernetes.io/version",
            id="label-1k-1000",
        ),
        pytest.param({"replicas": 1}, {"replicas": "1"}, ".replicas", id="int-vs-string-elsewhere"),
        pytest.param(
            {"resources": "1"}, {"resources": "1.0"}, ".resources", id="not-under-requests"
        ),
    ],
)
def test_quantity_rules_apply_only_to_resources(desired: Any, live: Any, expected: str) -> None:
    assert find_drift(desired, live) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("250m", Decimal("0.25"), id="milli"),
        pytest.param("2", Decimal(2), id="plain"),
        pytest.param(2, Decimal(2), id="int"),
        pytest.param(" 2 ", Decimal(2), id="whitespace"),
        pytest.param("0.5", Decimal("0.5"), id="decimal-fraction"),
        pytest.param(".5", Decimal("0.5"), id="leading-dot"),
        pytest.param("1Ki", Decimal(1024), id="kibi"),
        pytest.param("1Gi", Decimal(2**30), id="gibi"),
        pytest.param("1.5Gi", Decimal(3 * 2**29), id="fractional-gibi"),
        pytest.param("1Ei", Decimal(2**60), id="exbi-not-exa"),
        pytest.param("1k", Decimal(1000), id="kilo"),
        pytest.param("1M", Decimal(10**6), id="mega"),
        pytest.param("5E", Decimal(5 * 10**18), id="exa-suffix"),
        pytest.param("1e3", Decimal(1000), id="exponent"),
        pytest.param("1E3", Decimal(1000), id="upper-exponent"),
        pytest.param("100n", Decimal("1e-7"), id="nano"),
        pytest.param("10u", Decimal("1e-5"), id="micro"),
    ],
)
def test_parse_quantity(text: str | int, expected: Decimal) -> None:
    assert parse_quantity(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("m", id="suffix-only"),
        pytest.param("1Zi", id="unknown-suffix"),
        pytest.param("http", id="word"),
    ],
)
def test_parse_quantity_refuses_non_quantities(text: str) -> None:
    with pytest.raises(InvalidOperation):
        parse_quantity(text)
