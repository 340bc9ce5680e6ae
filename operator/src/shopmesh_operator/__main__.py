"""Entry point: `python -m shopmesh_operator` (or `shopmesh-operator`) runs the
operator in the foreground.

Environment:
  SHOPMESH_NAMESPACES  comma-separated namespaces (globs allowed); default: the whole cluster
  SHOPMESH_PEERING     name of a (Cluster)KopfPeering: replicas elect one active
                       operator through it (the chart sets it); unset: standalone
  SHOPMESH_PRIORITY    this replica's peering priority (default: random, so never a tie)
  SHOPMESH_LIVENESS    e.g. http://0.0.0.0:8081/healthz for a liveness probe
  SHOPMESH_RESYNC_SECONDS  the safety-net resync interval (default 300)
"""

from __future__ import annotations

import logging
import os
import secrets

import kopf

import shopmesh_operator.handlers  # noqa: F401  (registers the handlers)


def main() -> None:
    namespaces = [ns for ns in os.environ.get("SHOPMESH_NAMESPACES", "").split(",") if ns]
    kopf.configure(verbose=False)
    # kopf logs every handler success at INFO; reconcile logs what it changed.
    logging.getLogger("kopf.objects").setLevel(os.environ.get("SHOPMESH_KOPF_LOG_LEVEL", "WARNING"))
    peering = os.environ.get("SHOPMESH_PEERING") or None
    # kopf pauses every replica when peers share a priority, so each replica takes
    # its own: SHOPMESH_PRIORITY if given, else a random one.
    priority = int(os.environ.get("SHOPMESH_PRIORITY") or secrets.randbelow(1_000_000) + 1)
    kopf.run(
        standalone=peering is None,
        peering_name=peering,
        priority=priority,
        clusterwide=not namespaces,
        namespaces=namespaces,
        # In a pod: SHOPMESH_LIVENESS=http://0.0.0.0:8081/healthz; off by default locally.
        liveness_endpoint=os.environ.get("SHOPMESH_LIVENESS") or None,
    )


if __name__ == "__main__":
    main()
