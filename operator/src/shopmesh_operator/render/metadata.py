"""Labels, selectors and object metadata shared by every rendered child.

Every child carries the standard `app.kubernetes.io/*` labels and a controller
owner reference to its Microservice, so `kubectl delete msvc` garbage-collects it.
"""

from __future__ import annotations

from typing import Any

from shopmesh_operator import constants as c
from shopmesh_operator.models import Microservice


def build_selector_labels(ms: Microservice) -> dict[str, str]:
    """The immutable pod selector of the Deployment and Service."""
    return {c.LABEL_NAME: ms.metadata.name, c.LABEL_INSTANCE: ms.metadata.name}


def build_labels(ms: Microservice) -> dict[str, str]:
    return {
        **build_selector_labels(ms),
        c.LABEL_VERSION: image_tag(ms.spec.image),
        c.LABEL_PART_OF: c.PART_OF,
        c.LABEL_MANAGED_BY: c.MANAGED_BY,
        c.LABEL_MICROSERVICE: ms.metadata.name,
    }


def build_owner_reference(ms: Microservice) -> dict[str, Any]:
    return {
        "apiVersion": c.API_VERSION,
        "kind": c.KIND,
        "name": ms.metadata.name,
        "uid": ms.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def build_metadata(ms: Microservice, *, name: str | None = None) -> dict[str, Any]:
    return {
        "name": name or ms.metadata.name,
        "namespace": ms.metadata.namespace,
        "labels": build_labels(ms),
        "ownerReferences": [build_owner_reference(ms)],
    }


def image_tag(image: str) -> str:
    """The tag of an image reference, as a label value ("latest" when none is given)."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else "latest"
    cleaned = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in tag)[:63]
    return cleaned.strip("-_.") or "latest"
