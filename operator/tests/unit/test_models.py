"""Table tests for models.py: specs the model must refuse, and specs it accepts
with every default filled in. Autoscaling, disruption and rollout strategies are
in test_models_scaling.py; the Canary strategy in test_models_rollout.py; mesh,
durations and callers in test_models_mesh.py."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.models import (
    CircuitBreaker,
    Disruption,
    EnvVar,
    EnvVarSource,
    KeyRef,
    Mesh,
    Microservice,
    MicroserviceSpec,
    MicroserviceStatus,
    Probes,
    Resources,
    Retries,
    Rollout,
)

from .model_support import assert_refused

IMAGE = "shopmesh/cart:1.0"
SECRET = {"secretKeyRef": {"name": "db", "key": "password"}}
CONFIG = {"configMapKeyRef": {"name": "flags", "key": "cart"}}


def _bad(spec: dict[str, Any], loc: str, kind: str, text: str = "", *, id: str) -> Any:
    return pytest.param(spec, loc, kind, text, id=id)


@pytest.mark.parametrize(
    ("spec", "loc", "kind", "text"),
    [
        _bad({}, "image", "missing", id="missing-image"),
        _bad({"image": ""}, "image", "string_too_short", id="empty-image"),
        _bad({"image": IMAGE, "port": 0}, "port", "greater_than_equal", id="port-0"),
        _bad({"image": IMAGE, "port": 65536}, "port", "less_than_equal", id="port-65536"),
        _bad({"image": IMAGE, "replicas": -1}, "replicas", "greater_than_equal", id="replicas-neg"),
        _bad({"image": IMAGE, "replicas": 1001}, "replicas", "less_than_equal", id="replicas-1001"),
        _bad(
            {"image": IMAGE, "env": [{"name": "A", "value": "x", "valueFrom": SECRET}]},
            "env.0",
            "value_error",
            "set value or valueFrom, not both",
            id="env-value-and-valueFrom",
        ),
        _bad(
            {"image": IMAGE, "env": [{"name": "A", "valueFrom": {**SECRET, **CONFIG}}]},
            "env.0.valueFrom",
            "value_error",
            "exactly one of secretKeyRef or configMapKeyRef",
            id="valueFrom-both-refs",
        ),
        _bad(
            {"image": IMAGE, "env": [{"name": "A", "valueFrom": {}}]},
            "env.0.valueFrom",
            "value_error",
            "exactly one of secretKeyRef or configMapKeyRef",
            id="valueFrom-no-ref",
        ),
        _bad(
            {"image": IMAGE, "env": [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "db"}}}]},
            "env.0.valueFrom.secretKeyRef.key",
            "missing",
            id="keyref-without-key",
        ),
        _bad(
            {"image": IMAGE, "env": [{"name": ""}]}, "env.0.name", "string_too_short", id="env-name"
        ),
        _bad(
            {"image": IMAGE, "probes": {"readiness": "health/ready"}},
            "probes.readiness",
            "string_pattern_mismatch",
            id="readiness-path-relative",
        ),
        _bad(
            {"image": IMAGE, "probes": {"liveness": "live"}},
            "probes.liveness",
            "string_pattern_mismatch",
            id="liveness-path-relative",
        ),
        _bad(
            {"image": IMAGE, "imagePullPolicy": "Always"},
            "imagePullPolicy",
            "extra_forbidden",
            id="unknown-field",
        ),
        _bad(
            {"image": IMAGE, "env": [{"name": "A", "valueFrom": {**SECRET, "fieldRef": {}}}]},
            "env.0.valueFrom.fieldRef",
            "extra_forbidden",
            id="unknown-nested-field",
        ),
        _bad(
            {"image": IMAGE, "resources": {"requests": {"cpu": 0.5}}},
            "resources.requests.cpu.int",
            "int_from_float",
            id="float-quantity",
        ),
    ],
)
def test_bad_spec_is_refused(spec: dict[str, Any], loc: str, kind: str, text: str) -> None:
    assert_refused(spec, loc, kind, text)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        pytest.param(
            {"image": IMAGE},
            MicroserviceSpec(
                image=IMAGE,
                port=8080,
                replicas=1,
                env=(),
                resources=Resources(requests={}, limits={}),
                probes=Probes(readiness="/health/ready", liveness="/health/live"),
            ),
            id="minimal-gets-defaults",
        ),
        pytest.param(
            {"image": IMAGE, "port": 65535, "replicas": 0, "probes": {"liveness": "/live"}},
            MicroserviceSpec(
                image=IMAGE,
                port=65535,
                replicas=0,
                probes=Probes(readiness="/health/ready", liveness="/live"),
            ),
            id="bounds-inclusive-and-partial-probes",
        ),
        pytest.param(
            {
                "image": IMAGE,
                "env": [
                    {"name": "PLAIN", "value": "1"},
                    {"name": "EMPTY"},
                    {"name": "PW", "valueFrom": SECRET},
                    {
                        "name": "FLAGS",
                        "valueFrom": {
                            "configMapKeyRef": {**CONFIG["configMapKeyRef"], "optional": True}
                        },
                    },
                ],
                "resources": {"requests": {"cpu": "250m"}, "limits": {"cpu": 1}},
            },
            MicroserviceSpec(
                image=IMAGE,
                env=(
                    EnvVar(name="PLAIN", value="1"),
                    EnvVar(name="EMPTY"),
                    EnvVar(
                        name="PW",
                        value_from=EnvVarSource(secret_key_ref=KeyRef(name="db", key="password")),
                    ),
                    EnvVar(
                        name="FLAGS",
                        value_from=EnvVarSource(
                            config_map_key_ref=KeyRef(name="flags", key="cart", optional=True)
                        ),
                    ),
                ),
                resources=Resources(requests={"cpu": "250m"}, limits={"cpu": 1}),
            ),
            id="camelCase-env-and-int-or-string-quantities",
        ),
    ],
)
def test_good_spec_parses(spec: dict[str, Any], expected: MicroserviceSpec) -> None:
    assert MicroserviceSpec.model_validate(spec) == expected


def test_minimal_spec_gets_the_new_section_defaults() -> None:
    spec = MicroserviceSpec.model_validate({"image": IMAGE})
    assert spec.autoscaling is None
    assert spec.disruption == Disruption(max_unavailable=1)
    assert spec.mesh == Mesh(
        mtls="STRICT",
        allowed_callers=(),
        timeout="10s",
        retries=Retries(
            attempts=2,
            per_try_timeout="2s",
            retry_on="connect-failure,refused-stream,reset,unavailable",
        ),
        circuit_breaker=CircuitBreaker(
            consecutive5xx_errors=5,
            interval="10s",
            base_ejection_time="30s",
            max_ejection_percent=50,
            max_pending_requests=100,
        ),
        load_balancer="LEAST_REQUEST",
    )
    assert spec.rollout == Rollout(strategy="Rolling")


def test_from_body_ignores_unknown_metadata_and_status() -> None:
    ms = Microservice.from_body(
        {
            "metadata": {
                "name": "cart",
                "namespace": "shop",
                "uid": "u1",
                "generation": 4,
                "resourceVersion": "99",
                "labels": {"a": "b"},
            },
            "spec": {"image": IMAGE},
            "status": {"phase": "Ready", "observedGeneration": 3, "somethingElse": True},
        }
    )
    assert (ms.metadata.name, ms.metadata.namespace, ms.metadata.generation) == ("cart", "shop", 4)
    assert ms.status == MicroserviceStatus(phase="Ready", observed_generation=3)


def test_from_body_without_status_has_empty_status() -> None:
    ms = Microservice.from_body(
        {
            "metadata": {"name": "cart", "namespace": "shop"},
            "spec": {"image": IMAGE},
            "status": None,
        }
    )
    assert ms.status.observed_generation is None
    assert ms.status.to_wire() == {"conditions": []}
