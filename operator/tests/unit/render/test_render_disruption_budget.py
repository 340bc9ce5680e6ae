"""Table tests for `render.disruption_budget`: exactly one of minAvailable or
maxUnavailable (maxUnavailable 1 by default), counts or percentages as given."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.render import build_disruption_budget

from .microservices import SELECTOR, make_microservice


@pytest.mark.parametrize(
    ("spec", "budget"),
    [
        pytest.param({}, {"maxUnavailable": 1}, id="default-max-unavailable-1"),
        pytest.param(
            {"disruption": {"minAvailable": "50%"}}, {"minAvailable": "50%"}, id="min-percent"
        ),
        pytest.param({"disruption": {"minAvailable": 2}}, {"minAvailable": 2}, id="min-count"),
        pytest.param({"disruption": {"minAvailable": 0}}, {"minAvailable": 0}, id="min-0-kept"),
        pytest.param(
            {"disruption": {"maxUnavailable": "25%"}}, {"maxUnavailable": "25%"}, id="max-percent"
        ),
        pytest.param({"disruption": {"maxUnavailable": 0}}, {"maxUnavailable": 0}, id="max-0-kept"),
    ],
)
def test_disruption_budget(spec: dict[str, Any], budget: dict[str, Any]) -> None:
    pdb = build_disruption_budget(make_microservice(**spec))
    assert (pdb["apiVersion"], pdb["kind"]) == ("policy/v1", "PodDisruptionBudget")
    assert pdb["spec"] == {
        "selector": {"matchLabels": SELECTOR},
        **budget,
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
    }
