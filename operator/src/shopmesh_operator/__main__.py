"""Entry point: `python -m shopmesh_operator` (or `shopmesh-operator`) runs the
operator in the foreground. SHOPMESH_NAMESPACES (comma-separated, globs allowed)
limits it to some namespaces; the default is the whole cluster."""

from __future__ import annotations

import logging
import os

import kopf

import shopmesh_operator.handlers  # noqa: F401  (registers the handlers)


def main() -> None:
    namespaces = [ns for ns in os.environ.get("SHOPMESH_NAMESPACES", "").split(",") if ns]
    kopf.configure(verbose=False)
    # kopf logs every handler success at INFO; reconcile logs what it changed.
    logging.getLogger("kopf.objects").setLevel(os.environ.get("SHOPMESH_KOPF_LOG_LEVEL", "WARNING"))
    kopf.run(
        standalone=True,
        clusterwide=not namespaces,
        namespaces=namespaces,
        # In a pod: SHOPMESH_LIVENESS=http://0.0.0.0:8081/healthz; off by default locally.
        liveness_endpoint=os.environ.get("SHOPMESH_LIVENESS") or None,
    )


if __name__ == "__main__":
    main()
