"""Table tests for `render.deployment`: who owns the replica count (the spec, or an
HPA when autoscaling is set) and the release-track label the mesh routes on. The
hardening and zero-downtime invariants are in test_render_children.py."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.render import build_deployment

from .microservices import SELECTOR, make_microservice

HPA = {"minReplicas": 2, "maxReplicas": 6}


@pytest.mark.parametrize(
    ("spec", "replicas"),
    [
        pytest.param({}, 1, id="default-1"),
        pytest.param({"replicas": 0}, 0, id="scaled-to-0"),
        pytest.param({"replicas": 4}, 4, id="set"),
        pytest.param({"autoscaling": HPA}, None, id="autoscaling-omits-it"),
        pytest.param({"replicas": 4, "autoscaling": HPA}, None, id="autoscaling-beats-spec"),
    ],
)
def test_replicas_only_without_autoscaling(spec: dict[str, Any], replicas: int | None) -> None:
    deployment = build_deployment(make_microservice(**spec))
    assert deployment["spec"].get("replicas") == replicas
    assert ("replicas" in deployment["spec"]) is (replicas is not None)


@pytest.mark.parametrize(
    "spec",
    [pytest.param({}, id="rolling"), pytest.param({"autoscaling": HPA}, id="autoscaling")],
)
def test_pods_carry_the_stable_track_but_the_selector_does_not(spec: dict[str, Any]) -> None:
    deployment = build_deployment(make_microservice(**spec))
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert labels["shopmesh.io/track"] == "stable"
    # The selector is immutable: a track in it would orphan the pods of every later track.
    assert deployment["spec"]["selector"]["matchLabels"] == SELECTOR
