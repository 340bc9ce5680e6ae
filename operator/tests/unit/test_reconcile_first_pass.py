"""The first pass over a Microservice never reconciled before applies its children
straight away, without reading each one first; later passes compare first."""

from __future__ import annotations

from shopmesh_operator import constants as c
from shopmesh_operator.reconcile import reconcile_microservice

from .fake_cluster import FakeCluster
from .reconcile_support import NAME, NS


def child_reads(cluster: FakeCluster) -> list[tuple[str, str, str, str]]:
    """GETs of anything but the Microservice itself and the callers' ServiceAccounts."""
    return [key for key in cluster.reads if key[1] not in (c.KIND, "ServiceAccount")]


async def test_first_pass_applies_without_reading_children(cluster: FakeCluster) -> None:
    result = await reconcile_microservice(NS, NAME, cluster)

    assert result is not None
    assert child_reads(cluster) == []
    assert len(cluster.applies) == len(result.changes) == 9
    assert {change.action for change in result.changes} == {"Created"}


async def test_later_passes_read_every_child_before_deciding(cluster: FakeCluster) -> None:
    await reconcile_microservice(NS, NAME, cluster)
    cluster.reads.clear()
    cluster.forget_writes()

    await reconcile_microservice(NS, NAME, cluster)

    # every child but the ServiceAccount (read above), and the HPA it would prune
    assert len(child_reads(cluster)) == 9
    assert cluster.writes == 0
