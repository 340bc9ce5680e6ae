"""plan.py: the pure plan of a pass: every rendered child, except what observations
change: a missing caller leaves the AuthorizationPolicy with the known callers only (so a
caller removed from the spec loses access at once, whatever else is missing), and the
status gets the OutOfSync note."""

from __future__ import annotations

from typing import Any

import pytest

from shopmesh_operator.models import Microservice
from shopmesh_operator.plan import Observations, plan_children
from shopmesh_operator.render import build_children

from .fake_cluster import microservice_body

SPEC = {"image": "shopmesh/cart:1.0", "mesh": {"allowedCallers": ["orders", "ops/admin"]}}


def _cart() -> Microservice:
    return Microservice.from_body(microservice_body(spec=SPEC))


def _policy_callers(children: tuple[dict[str, Any], ...]) -> list[str] | None:
    for child in children:
        if child["kind"] == "AuthorizationPolicy":
            return [
                principal
                for rule in child["spec"].get("rules", [])
                for source in rule.get("from", [])
                for principal in source["source"]["principals"]
            ]
    return None


@pytest.mark.parametrize(
    ("seen", "principals", "note"),
    [
        pytest.param(
            Observations(("orders", "ops/admin"), ()),
            ["cluster.local/ns/shop/sa/orders", "cluster.local/ns/ops/sa/admin"],
            None,
            id="every-caller-exists",
        ),
        pytest.param(
            Observations(("orders",), ("ops/admin",)),
            ["cluster.local/ns/shop/sa/orders"],
            "no ServiceAccount ops/admin",
            id="missing-caller-waits-the-known-ones-are-allowed",
        ),
        pytest.param(
            Observations((), ("orders", "ops/admin")),
            [],
            "no ServiceAccount shop/orders, ops/admin",
            id="every-caller-missing-allows-nobody",
        ),
    ],
)
def test_plan(seen: Observations, principals: list[str], note: str | None) -> None:
    ms = _cart()
    plan = plan_children(ms, seen)
    assert _policy_callers(plan.children) == principals
    if note is None:
        assert plan.out_of_sync is None
    else:
        assert plan.out_of_sync is not None
        assert note in plan.out_of_sync
    # Everything rendered counts as wanted: nothing of it is pruned.
    assert plan.rendered == {(m["apiVersion"], m["kind"]) for m in build_children(ms)}
    others = [m for m in build_children(ms) if m["kind"] != "AuthorizationPolicy"]
    assert [m for m in plan.children if m["kind"] != "AuthorizationPolicy"] == others


def test_plan_is_pure() -> None:
    ms = _cart()
    seen = Observations(("orders",), ("ops/admin",))
    assert plan_children(ms, seen) == plan_children(ms, seen)
