"""reconcile_microservice with allowed callers whose ServiceAccount does not exist:
the OutOfSync condition names them, the AuthorizationPolicy allows the known callers
only (unchanged when they are what it allowed already: no write at all; a caller
removed from the spec loses access in the same pass, whatever else is missing), and
once the ServiceAccount appears the next pass applies the full policy and reports it
as an update (the operator left it out, nobody changed it)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from shopmesh_operator.apply import ApplyError
from shopmesh_operator.reconcile import Reconciler, ReconcileResult, reconcile_microservice

from .fake_cluster import API_VERSIONS, Event, FakeCluster, service_account_body

NS, NAME = "shop", "cart"
ORDERS = "cluster.local/ns/shop/sa/orders"
ADMIN = "cluster.local/ns/ops/sa/admin"
GATEWAY = "cluster.local/ns/shop/sa/gateway"
TAIL = "; the AuthorizationPolicy leaves it out until it exists"
PRINCIPALS = ".spec.rules[0].from[0].source.principals"
POLICY_API_VERSION = API_VERSIONS["AuthorizationPolicy"]


def _principals(cluster: FakeCluster) -> list[str]:
    rules: list[dict[str, Any]] = cluster.child("AuthorizationPolicy")["spec"]["rules"]
    return [p for rule in rules for src in rule["from"] for p in src["source"]["principals"]]


def _condition(result: ReconcileResult | None, type_: str) -> tuple[str, str, str]:
    assert result is not None
    condition = result.status.condition(type_)
    assert condition is not None
    return (condition.status, condition.reason, condition.message)


async def _waiting_on_admin(
    cluster: FakeCluster, reconciler: Reconciler | None = None
) -> ReconcileResult | None:
    """Settle with callers [orders], then add ops/admin, which does not exist."""
    reconciler = reconciler or Reconciler(cluster)
    cluster.put(service_account_body("orders"))
    cluster.microservice()["spec"]["mesh"] = {"allowedCallers": ["orders"]}
    await reconciler.reconcile(NS, NAME)
    cluster.forget_writes()
    cluster.bump_generation(mesh={"allowedCallers": ["orders", "ops/admin"]})
    return await reconciler.reconcile(NS, NAME)


async def test_unknown_caller_keeps_the_policy_and_reports_out_of_sync(
    cluster: FakeCluster,
) -> None:
    cluster.put(service_account_body("orders"))
    cluster.microservice()["spec"]["mesh"] = {"allowedCallers": ["orders"]}
    await reconcile_microservice(NS, NAME, cluster)
    cluster.forget_writes()
    good = copy.deepcopy(cluster.child("AuthorizationPolicy"))
    cluster.bump_generation(mesh={"allowedCallers": ["orders", "ops/admin"]})

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert result.changes == ()
    assert cluster.applied == []  # zero writes to the policy, or to any child
    assert cluster.child("AuthorizationPolicy") == good
    assert _principals(cluster) == [ORDERS]
    message = f"mesh.allowedCallers: no ServiceAccount ops/admin{TAIL}"
    assert _condition(result, "OutOfSync") == ("True", "UnknownCaller", message)
    assert result.status.phase == "Ready"
    (status,) = cluster.statuses
    assert {"type": "OutOfSync", "status": "True"}.items() <= status["conditions"][3].items()
    assert cluster.writes == 1  # the status; the phase did not change, so no event


async def test_a_revoked_caller_loses_access_while_a_new_one_is_missing(
    cluster: FakeCluster,
) -> None:
    """The hole: revoking orders while adding ops/admin, which does not exist yet, kept
    orders in the policy until admin appeared."""
    reconciler = Reconciler(cluster)
    cluster.put(service_account_body("orders"))
    cluster.put(service_account_body("gateway"))
    cluster.microservice()["spec"]["mesh"] = {"allowedCallers": ["orders", "gateway"]}
    await reconciler.reconcile(NS, NAME)
    assert _principals(cluster) == [ORDERS, GATEWAY]
    cluster.bump_generation(mesh={"allowedCallers": ["gateway", "ops/admin"]})

    result = await reconciler.reconcile(NS, NAME)

    assert _principals(cluster) == [GATEWAY]  # orders is out at once; admin waits
    message = f"mesh.allowedCallers: no ServiceAccount ops/admin{TAIL}"
    assert _condition(result, "OutOfSync") == ("True", "UnknownCaller", message)
    assert result is not None
    assert [(ch.kind, ch.action, ch.path) for ch in result.changes] == [
        ("AuthorizationPolicy", "Updated", PRINCIPALS)
    ]
    cluster.put(service_account_body("admin", "ops"))
    result = await reconciler.reconcile(NS, NAME)
    assert _principals(cluster) == [GATEWAY, ADMIN]
    assert _condition(result, "OutOfSync")[0] == "False"


async def test_waiting_on_a_caller_is_idle(cluster: FakeCluster) -> None:
    await _waiting_on_admin(cluster)
    cluster.forget_writes()

    for _ in range(2):
        result = await reconcile_microservice(NS, NAME, cluster)
        assert result is not None
        assert (result.changes, result.status_written) == ((), False)
    assert cluster.writes == 0


CAUGHT_UP = "every caller now exists"


async def test_caller_that_appears_gets_the_full_policy(cluster: FakeCluster) -> None:
    reconciler = Reconciler(cluster)
    await _waiting_on_admin(cluster, reconciler)
    assert reconciler.callers.take("ops", "admin") == {(NS, NAME)}  # what wakes this reconcile
    cluster.forget_writes()
    cluster.put(service_account_body("admin", "ops"))

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert [(ch.kind, ch.name, ch.action, ch.path) for ch in result.changes] == [
        ("AuthorizationPolicy", NAME, "Updated", CAUGHT_UP)
    ]
    assert cluster.applied == ["AuthorizationPolicy"]
    assert _principals(cluster) == [ORDERS, ADMIN]
    assert _condition(result, "OutOfSync") == ("False", "Synced", "every child matches the spec")
    assert cluster.writes == 3  # the policy, its event, the status


async def test_caller_that_appears_is_not_reported_as_an_outside_change(
    cluster: FakeCluster,
) -> None:
    await _waiting_on_admin(cluster)
    cluster.forget_writes()
    cluster.put(service_account_body("admin", "ops"))

    await reconcile_microservice(NS, NAME, cluster)

    assert cluster.events == [
        Event(
            "Normal",
            "Updated",
            f"updated AuthorizationPolicy {NAME} (first difference at {CAUGHT_UP})",
        )
    ]


async def test_after_catching_up_a_hand_edit_is_drift_again(cluster: FakeCluster) -> None:
    """ "Updated" is for the one pass that lifts the hold; the status it writes
    (OutOfSync False) makes the next outside change drift as usual."""
    await _waiting_on_admin(cluster)
    cluster.put(service_account_body("admin", "ops"))
    await reconcile_microservice(NS, NAME, cluster)
    cluster.forget_writes()
    assert await reconcile_microservice(NS, NAME, cluster) is not None
    assert cluster.writes == 0
    rules = cluster.child("AuthorizationPolicy")["spec"]["rules"]
    rules[0]["from"][0]["source"]["principals"] = [ORDERS]

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert [(ch.kind, ch.action, ch.path) for ch in result.changes] == [
        ("AuthorizationPolicy", "DriftRepaired", PRINCIPALS)
    ]
    assert _principals(cluster) == [ORDERS, ADMIN]


async def test_policy_deleted_while_waiting_is_reported_as_recreated(
    cluster: FakeCluster,
) -> None:
    await _waiting_on_admin(cluster)
    cluster.forget_writes()
    del cluster.objects[(POLICY_API_VERSION, "AuthorizationPolicy", NS, NAME)]

    result = await reconcile_microservice(NS, NAME, cluster)

    assert _principals(cluster) == [ORDERS]  # still held back: admin does not exist
    message = f"mesh.allowedCallers: no ServiceAccount ops/admin{TAIL}"
    assert _condition(result, "OutOfSync") == ("True", "UnknownCaller", message)
    assert result is not None
    assert [(ch.kind, ch.action, ch.path) for ch in result.changes] == [
        ("AuthorizationPolicy", "DriftRepaired", None)
    ]
    assert cluster.events[0] == Event(
        "Normal",
        "DriftRepaired",
        f"AuthorizationPolicy {NAME} was deleted outside the operator; recreated",
    )


async def test_caller_that_appears_after_a_failed_pass_is_still_an_update(
    cluster: FakeCluster,
) -> None:
    await _waiting_on_admin(cluster)
    containers = cluster.child("Deployment")["spec"]["template"]["spec"]["containers"]
    containers[0]["image"] = "shopmesh/cart:hand-edited"
    cluster.refuse["Deployment"] = ApplyError(reason="Invalid", message="no", retryable=False)
    failed = await reconcile_microservice(NS, NAME, cluster)
    assert failed is not None
    assert failed.status.phase == "Failed"
    del cluster.refuse["Deployment"]
    cluster.forget_writes()
    cluster.put(service_account_body("admin", "ops"))

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert ("AuthorizationPolicy", "Updated", CAUGHT_UP) in [
        (ch.kind, ch.action, ch.path) for ch in result.changes
    ]


@pytest.mark.parametrize(
    ("callers", "principals", "missing"),
    [
        pytest.param(["orders", "ghost"], [ORDERS], "shop/ghost", id="one-known-one-missing"),
        pytest.param(["ghost"], None, "shop/ghost", id="none-known-denies-all"),
        pytest.param(
            ["ghost", "orders", "ops/admin"],
            [ORDERS],
            "shop/ghost, ops/admin",
            id="every-missing-one-named",
        ),
    ],
)
async def test_first_creation_with_a_missing_caller(
    cluster: FakeCluster, callers: list[str], principals: list[str] | None, missing: str
) -> None:
    cluster.put(service_account_body("orders"))
    cluster.microservice()["spec"]["mesh"] = {"allowedCallers": callers}

    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert ("AuthorizationPolicy", "Created") in [(ch.kind, ch.action) for ch in result.changes]
    if principals is None:
        assert cluster.child("AuthorizationPolicy")["spec"]["rules"] == []
    else:
        assert _principals(cluster) == principals
    message = f"mesh.allowedCallers: no ServiceAccount {missing}{TAIL}"
    assert _condition(result, "OutOfSync") == ("True", "UnknownCaller", message)

    cluster.forget_writes()
    assert await reconcile_microservice(NS, NAME, cluster) is not None
    assert cluster.writes == 0  # the known-callers policy now exists: it is kept
