"""Operator start-up and shutdown: kopf settings, the one API client and the one
`Reconciler` in `memo` (with the canary analysis provider: Prometheus at
SHOPMESH_PROMETHEUS_URL), and the background tasks kopf does not run for us: the child watches, the
safety-net resync and the memory trim (all gated by peering where it matters)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import Any

import kopf

from shopmesh_operator import constants as c
from shopmesh_operator import metrics
from shopmesh_operator.analysis import PrometheusProvider
from shopmesh_operator.apply import KubeApi
from shopmesh_operator.memory import trim_forever
from shopmesh_operator.peering import PeeringGate
from shopmesh_operator.reconcile import Reconciler
from shopmesh_operator.resync import resync_forever
from shopmesh_operator.watch import Watcher


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # We post our own, meaningful Events; kopf's per-handler ones would be noise
    # and would make an idle operator write.
    settings.posting.enabled = False
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=c.GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=c.GROUP, key="last-handled-configuration"
    )
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300
    port = os.environ.get("SHOPMESH_METRICS_PORT")
    if port:
        metrics.serve(int(port))
    memo.api = await KubeApi.connect()
    prometheus = os.environ.get("SHOPMESH_PROMETHEUS_URL")
    memo.analysis = PrometheusProvider(prometheus) if prometheus else None
    memo.reconciler = reconciler = Reconciler(memo.api, memo.analysis)
    namespaces = [ns for ns in os.environ.get("SHOPMESH_NAMESPACES", "").split(",") if ns]
    interval = float(os.environ.get("SHOPMESH_RESYNC_SECONDS", "300"))
    gate = PeeringGate(
        memo.api,
        name=os.environ.get("SHOPMESH_PEERING") or None,
        priority=settings.peering.priority,
        namespaces=namespaces,
    )
    memo.resync = asyncio.create_task(
        resync_forever(reconciler, interval=interval, namespaces=namespaces, active=gate.active)
    )
    memo.trim = asyncio.create_task(trim_forever())
    memo.watcher = Watcher(memo.api, reconciler, namespaces=namespaces, active=gate.active)
    memo.watcher.start()


@kopf.on.cleanup()
async def close(memo: kopf.Memo, **_: Any) -> None:
    watcher = getattr(memo, "watcher", None)
    if watcher is not None:
        await watcher.stop()
    for task in (getattr(memo, "resync", None), getattr(memo, "trim", None)):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    for client in (getattr(memo, "api", None), getattr(memo, "analysis", None)):
        if client is not None:
            await client.close()
