"""What the Deployment controller leaves behind, for the release tests: ReplicaSets
(revisions) of a pod template, and a Deployment stuck past its progress deadline."""

from __future__ import annotations

import copy
from typing import Any

from shopmesh_operator.models import Microservice
from shopmesh_operator.render import build_deployment
from shopmesh_operator.rolling import REVISION, REVISION_HISTORY, TEMPLATE_HASH

from .fake_cluster import microservice_body


def cart(image: str, *, generation: int = 1, status: dict[str, Any] | None = None) -> Microservice:
    body = microservice_body(generation=generation, spec={"image": image, "replicas": 2})
    return Microservice.from_body({**body, "status": status or {}})


def template(image: str) -> dict[str, Any]:
    """The pod template the operator renders for shop/cart running `image`."""
    return copy.deepcopy(build_deployment(cart(image))["spec"]["template"])


def replica_set(image: str, revision: int, *, history: str | None = None) -> dict[str, Any]:
    """A ReplicaSet of shop/cart's Deployment for `image`, at `revision`."""
    pod_template = template(image)
    pod_template["metadata"]["labels"][TEMPLATE_HASH] = f"hash{revision}"
    annotations = {REVISION: str(revision)}
    if history is not None:
        annotations[REVISION_HISTORY] = history
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"cart-hash{revision}",
            "namespace": "shop",
            "labels": dict(pod_template["metadata"]["labels"]),
            "annotations": annotations,
        },
        "spec": {"template": pod_template},
    }


def past_deadline(deployment: dict[str, Any]) -> dict[str, Any]:
    """`deployment` as its controller reports it once the progress deadline has passed."""
    stuck = copy.deepcopy(deployment)
    generation = stuck["metadata"].get("generation", 1)
    stuck["metadata"]["generation"] = generation
    stuck["status"] = {
        "observedGeneration": generation,
        "replicas": 3,
        "updatedReplicas": 1,
        "readyReplicas": 2,
        "availableReplicas": 2,
        "conditions": [
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "cart-hash2" has timed out progressing.',
            }
        ],
    }
    return stuck
