"""Table tests for `render.authorization_policy`: an ALLOW policy whose only rule
lists the SPIFFE-style principals "<trust domain>/ns/<namespace>/sa/<name>" of the
allowed callers; with no callers it has no rules, which denies every request."""

from __future__ import annotations

import pytest

from shopmesh_operator.render import build_authorization_policy
from shopmesh_operator.render.authorization_policy import caller_identity

from .microservices import SELECTOR, make_microservice

INGRESS = "istio-system/istio-ingressgateway-service-account"


def _allow(*principals: str) -> list[dict[str, object]]:
    return [{"from": [{"source": {"principals": list(principals)}}]}]


@pytest.mark.parametrize(
    ("callers", "rules"),
    [
        pytest.param([], [], id="no-callers-deny-all"),
        pytest.param(["orders"], _allow("cluster.local/ns/shop/sa/orders"), id="same-namespace"),
        pytest.param(
            [INGRESS],
            _allow("cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account"),
            id="cross-namespace",
        ),
        pytest.param(
            ["orders", "ops/admin", "shop/gateway"],
            _allow(
                "cluster.local/ns/shop/sa/orders",
                "cluster.local/ns/ops/sa/admin",
                "cluster.local/ns/shop/sa/gateway",
            ),
            id="mixed-in-given-order",
        ),
    ],
)
def test_principals_of_allowed_callers(callers: list[str], rules: object) -> None:
    policy = build_authorization_policy(make_microservice(mesh={"allowedCallers": callers}))
    assert (policy["apiVersion"], policy["kind"]) == ("security.istio.io/v1", "AuthorizationPolicy")
    assert policy["spec"] == {
        "selector": {"matchLabels": SELECTOR},
        "action": "ALLOW",
        "rules": rules,
    }


@pytest.mark.parametrize(
    ("callers", "rules"),
    [
        pytest.param((), [], id="none-known-deny-all"),
        pytest.param(("orders",), _allow("cluster.local/ns/shop/sa/orders"), id="subset"),
    ],
)
def test_explicit_callers_replace_the_spec(callers: tuple[str, ...], rules: object) -> None:
    """What reconcile renders while some callers' ServiceAccounts do not exist yet."""
    ms = make_microservice(mesh={"allowedCallers": ["orders", "ops/ghost"]})
    assert build_authorization_policy(ms, callers=callers)["spec"]["rules"] == rules


@pytest.mark.parametrize(
    ("env", "principal"),
    [
        pytest.param(None, "cluster.local/ns/shop/sa/orders", id="default-cluster-local"),
        pytest.param("shop.example.com", "shop.example.com/ns/shop/sa/orders", id="custom"),
    ],
)
def test_trust_domain_from_environment(
    monkeypatch: pytest.MonkeyPatch, env: str | None, principal: str
) -> None:
    if env is None:
        monkeypatch.delenv("SHOPMESH_TRUST_DOMAIN", raising=False)
    else:
        monkeypatch.setenv("SHOPMESH_TRUST_DOMAIN", env)
    policy = build_authorization_policy(make_microservice(mesh={"allowedCallers": ["orders"]}))
    assert policy["spec"]["rules"] == _allow(principal)


@pytest.mark.parametrize(
    ("caller", "identity"),
    [
        pytest.param("orders", ("shop", "orders"), id="name-is-in-own-namespace"),
        pytest.param("ops/admin", ("ops", "admin"), id="namespace-and-name"),
        pytest.param("shop/orders", ("shop", "orders"), id="own-namespace-spelled-out"),
    ],
)
def test_caller_identity(caller: str, identity: tuple[str, str]) -> None:
    assert caller_identity(make_microservice(), caller) == identity
